/**
 * Seed 000's REST answers (utils/response.js): always HTTP 200 with `{meta: {status, msg}, data}`;
 * `status` is one of these codes with its text. They are not Herald's `{code, msg}` errors: the
 * seed's apps read `meta.status`.
 */
export const RoomsyncCodes = Object.freeze({
  ok: { code: 0, msg: 'success' },
  permission: { code: 1, msg: 'require permission' },
  userExists: { code: 2, msg: 'user exists, please use refresh token api' },
  operationFailed: { code: 3, msg: 'operation failed' },
  serverError: { code: 4, msg: 'server errors' },
  paramError: { code: 5, msg: 'param error' },
  userNotExists: { code: 6, msg: 'user not exists' },
  roomNotExists: { code: 7, msg: 'room not exists' },
});

export type RoomsyncCode = (typeof RoomsyncCodes)[keyof typeof RoomsyncCodes];

export interface RoomsyncAnswer {
  readonly meta: { readonly status: number; readonly msg: string };
  readonly data: unknown;
}

export function answer(code: RoomsyncCode, data?: unknown): RoomsyncAnswer {
  return { meta: { status: code.code, msg: code.msg }, data: data ?? {} };
}

/** A refusal of a roomsync route: answered as its code, with HTTP 200 (routes.ts's error handler). */
export class RoomsyncRefusal extends Error {
  override readonly name = 'RoomsyncRefusal';
  constructor(
    readonly code: RoomsyncCode,
    readonly data?: unknown,
  ) {
    super(code.msg);
  }
}
