import { Errors, HeraldError, isRefusedCallbackUrl, isValidName } from '@herald/wire';
import type { ParsedUrlQuery } from 'node:querystring';
import { stringify } from 'node:querystring';

/** What a namespace's connect callback may decide, beyond accepting the client. */
export interface CallbackDecision {
  /** The authenticated user: its user room, and the user part of the clientId (protocols/push). */
  readonly userid?: string;
  /** Rooms the client joins on connect. */
  readonly rooms: readonly string[];
}

export interface CallbackRequest {
  readonly url: string;
  readonly namespace: string;
  readonly query: ParsedUrlQuery;
  readonly cookie: string | undefined;
  readonly authorization: string | undefined;
  readonly timeoutMs: number;
  /** HERALD_CALLBACK_ALLOW_PRIVATE: the callback may be on a loopback or link-local address. */
  readonly allowPrivate: boolean;
}

function refuse(detail: string): HeraldError {
  return new HeraldError(Errors.HS_CALLBACK_FAILED, detail);
}

/**
 * Asks the namespace's third-party server whether a client may connect (seed 002, connect flow step
 * 10): `GET <url>?<handshake query>` with `cookie`, `authorization: <callback_auth>` and `namespace`.
 * 200 accepts; a JSON body may name `userid` and `rooms`. Anything else refuses the handshake with a
 * message saying why. The request is asynchronous, so a slow callback delays only its own handshake.
 */
export async function askConnectCallback(request: CallbackRequest): Promise<CallbackDecision> {
  const url = request.url + (request.url.includes('?') ? '&' : '?') + stringify(request.query);
  const headers: Record<string, string> = { namespace: request.namespace, accept: 'application/json' };
  if (request.cookie) headers['cookie'] = request.cookie;
  if (request.authorization) headers['authorization'] = request.authorization;
  // Neither the URL nor the upstream error text reaches the client: the URL may carry a token, and
  // both tell an attacker about the tenant's network.
  if (!request.allowPrivate && (await isRefusedCallbackUrl(request.url))) throw refuse('callback unreachable');
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(request.timeoutMs) });
    text = await response.text();
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') throw refuse(`callback timed out after ${request.timeoutMs} ms`);
    throw refuse('callback unreachable');
  }
  if (response.status !== 200) {
    // The seed's exact text: clients match on it.
    throw new HeraldError({ ...Errors.HS_CALLBACK_FAILED, msg: `handshake fail statusCode: ${response.status}` });
  }
  if (text.trim() === '') return { rooms: [] };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { rooms: [] }; // The seed accepted any 200; a plain "ok" body stays an acceptance.
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { rooms: [] };
  const { userid, rooms } = body as { userid?: unknown; rooms?: unknown };
  if (userid !== undefined && userid !== null && !isValidName('userid', String(userid))) throw refuse('callback returned an invalid userid');
  if (rooms !== undefined && (!Array.isArray(rooms) || rooms.length > 100 || !rooms.every((r) => isValidName('room', r)))) {
    throw refuse('callback returned invalid rooms');
  }
  return {
    ...(userid !== undefined && userid !== null ? { userid: String(userid) } : {}),
    rooms: (rooms as string[] | undefined) ?? [],
  };
}
