import { Errors, HeraldError, PushBody, validatePushRequest, type PushRequest } from '@herald/wire';
import { Type } from '@sinclair/typebox';
import type { FastifySchemaCompiler } from 'fastify';
import type { AuthRouteContext } from './context';
import { idempotencyOf } from './idempotency';
import { answers } from './responses';

export const PushAnswer = Type.Object(
  {
    id: Type.Integer({ minimum: 1, description: 'The message id (increasing per namespace).' }),
    expectAckCount: Type.Integer({ minimum: 0, description: 'Clients online in the room when the push was accepted, minus `except`.' }),
  },
  { additionalProperties: false },
);

/** One answer of the batch route: the push's result, or its catalogue error. */
const BatchAnswer = Type.Union([
  PushAnswer,
  Type.Object({ code: Type.String(), msg: Type.String() }, { additionalProperties: false, description: 'This push was refused (catalogue error); the others are answered on their own.' }),
]);

/** The `Idempotency-Key` header, documented; its value is checked by idempotencyOf (IDEMPOTENCY_KEY_INVALID). */
const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ description: 'Retry key: the same key (per namespace) within HERALD_IDEMPOTENCY_TTL_S answers the first result and pushes nothing again (docs/api.md).' }),
  ),
});

/**
 * The push body is checked by validatePushRequest, which runs the PushBody schema and places the
 * namespace's offline state where the seed checked it (after `except`, before `expire`) — fastify's
 * validation runs before the handler knows that state, so it is skipped for the body here.
 */
const checkedInHandler: FastifySchemaCompiler<unknown> = () => () => true;

/**
 * `POST /api/auth/push` (seed 002 route 1) and `POST /api/auth/push/batch`: store, count, publish and
 * check the failed-authentication limit in one script call (PushService), with an optional
 * `Idempotency-Key` (docs/api.md).
 */
export function pushRoutes({ app, push, failures, pushLimits }: AuthRouteContext): void {
  app.post(
    '/api/auth/push',
    {
      config: { authFailuresInRoute: true },
      schema: {
        summary: 'Push a message to a room',
        tags: ['push'],
        security: [{ namespace: [] }],
        headers: IdempotencyHeaders,
        body: PushBody,
        response: answers(PushAnswer, { body: true }),
      },
      validatorCompiler: checkedInHandler,
    },
    async (request) => {
      const namespace = request.namespace!;
      const idempotency = idempotencyOf(request, pushLimits.idempotencyTtlS);
      const body = validatePushRequest(request.body, namespace.offline);
      return push.push(namespace.key, body, undefined, { authFailures: failures.limitFor(request.ip), ...(idempotency ? { idempotency } : {}) });
    },
  );

  app.post(
    '/api/auth/push/batch',
    {
      config: { authFailuresInRoute: true },
      schema: {
        summary: 'Push up to HERALD_PUSH_BATCH_MAX messages in one request, each answered on its own',
        tags: ['push'],
        security: [{ namespace: [] }],
        headers: IdempotencyHeaders,
        body: Type.Array(PushBody, { minItems: 1, maxItems: pushLimits.batchMax }),
        response: answers(Type.Array(BatchAnswer), { body: true }),
      },
      // Each item is checked on its own by validatePushRequest (its error is that item's answer);
      // the array itself is checked in preValidation (fastify's Ajv would coerce a scalar into a
      // one-element array).
      validatorCompiler: checkedInHandler,
      preValidation: async (request) => {
        const body = request.body;
        if (!Array.isArray(body) || body.length === 0 || body.length > pushLimits.batchMax) throw new HeraldError(Errors.PUSH_BATCH_INVALID);
      },
    },
    async (request) => {
      const namespace = request.namespace!;
      const idempotency = idempotencyOf(request, pushLimits.idempotencyTtlS);
      const answers: ({ id: number; expectAckCount: number } | { code: string; msg: string })[] = [];
      const valid: PushRequest[] = [];
      const at: number[] = [];
      (request.body as unknown[]).forEach((item, i) => {
        try {
          valid.push(validatePushRequest(item, namespace.offline));
          at.push(i);
        } catch (error) {
          if (!(error instanceof HeraldError)) throw error;
          answers[i] = error.toBody();
        }
      });
      if (valid.length === 0) {
        // Nothing reaches the store script, which would have checked the limit.
        await failures.check(request.ip);
        return answers;
      }
      const results = await push.pushBatch(namespace.key, valid, { authFailures: failures.limitFor(request.ip), ...(idempotency ? { idempotency } : {}) });
      results.forEach((result, n) => (answers[at[n]!] = result));
      return answers;
    },
  );
}
