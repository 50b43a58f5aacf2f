import { Errors, HeraldError, isRefusedCallbackUrl, isValidName, isWebserviceUserRoom, type WebserviceSettings } from '@herald/wire';

/** What the handshake sends to `auth_url`, from the client's query. */
export interface AuthRequest {
  readonly settings: WebserviceSettings;
  readonly token: string | undefined;
  readonly meta: string | undefined;
  /** HERALD_CALLBACK_TIMEOUT_MS */
  readonly timeoutMs: number;
  /** HERALD_CALLBACK_ALLOW_PRIVATE */
  readonly allowPrivate: boolean;
}

/** Most rooms one `auth_url` answer may name (each is a Redis write on connect). */
export const MAX_AUTH_ROOMS = 1000;

/** Most bytes of an `auth_url` answer read (1000 rooms of 100 characters fit about 10 times over). */
export const MAX_AUTH_BODY_BYTES = 1024 * 1024;

/** The body as text, refused past MAX_AUTH_BODY_BYTES: a tenant's server cannot fill a connector's memory. */
async function readCapped(response: Response): Promise<string> {
  if (Number(response.headers.get('content-length') ?? 0) > MAX_AUTH_BODY_BYTES || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    if (response.body) throw authError('auth_url answer too large');
    return '';
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_AUTH_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw authError('auth_url answer too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `Auth error: <reason>`: the seed's text for a failed request; the reason names no secret and no URL. */
function authError(reason: string): HeraldError {
  return new HeraldError(Errors.HS_WS_AUTH_ERROR, reason);
}

/**
 * The seed's handshake (crossroads/socket.io-webservice `nsp.use`): `GET <auth_url>` with
 * `Authorization: <auth_scheme> <token>` and `X-META: <meta>`; a 200 whose body is a JSON array of
 * room names admits the client into exactly those rooms. Refusals carry the seed's texts:
 * `Authentication failed` (401), `Auth <status> error` (any other status), `Auth error: <reason>`
 * (the request failed, timed out, or the answer is not an array of room names), and
 * `User is missing a private room` (a user room prefix is set and no room is a user room nor the
 * public channel). The status is checked before the body is read: the seed parsed a 401's body
 * first and answered a non-JSON one with `Auth error: SyntaxError …` instead of its 401 text.
 *
 * Redirects are refused and the address is checked like every tenant callback (connect-callback.ts):
 * a tenant must not reach Herald's host or the metadata service through its auth_url.
 */
export async function askAuthUrl(request: AuthRequest): Promise<string[]> {
  const { settings } = request;
  if (settings.authUrl === undefined) throw authError('auth_url is not set');
  if (!request.allowPrivate && (await isRefusedCallbackUrl(settings.authUrl))) throw authError('auth_url address refused');
  const headers: Record<string, string> = { accept: 'application/json', authorization: `${settings.authScheme} ${request.token ?? ''}`.trim() };
  if (request.meta !== undefined) headers['x-meta'] = request.meta;
  const failed = (error: unknown): HeraldError => {
    if (error instanceof HeraldError) return error;
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') return authError(`auth_url timed out after ${request.timeoutMs} ms`);
    return authError('auth_url unreachable');
  };
  const signal = AbortSignal.timeout(request.timeoutMs);
  let response: Response;
  try {
    response = await fetch(settings.authUrl, { headers, redirect: 'error', signal });
  } catch (error) {
    throw failed(error);
  }
  // The status first, its body unread (a 401 whose body is not JSON is still `Authentication failed`).
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    if (response.status === 401) throw new HeraldError(Errors.HS_WS_AUTH_FAILED);
    throw new HeraldError({ ...Errors.HS_WS_AUTH_STATUS, msg: `Auth ${response.status} error` });
  }
  let text: string;
  try {
    text = await readCapped(response);
  } catch (error) {
    throw failed(error);
  }
  let rooms: unknown;
  try {
    rooms = JSON.parse(text);
  } catch {
    throw authError('auth_url did not answer JSON');
  }
  if (!Array.isArray(rooms)) throw authError('auth_url did not answer an array of rooms');
  if (rooms.length > MAX_AUTH_ROOMS) throw authError(`auth_url named more than ${MAX_AUTH_ROOMS} rooms`);
  if (!rooms.every((room) => isValidName('room', room))) throw authError('auth_url named an invalid room');
  const unique = [...new Set(rooms as string[])];
  if (settings.userRoomPrefix !== undefined && !unique.some((room) => isWebserviceUserRoom(settings, room))) {
    throw new HeraldError(Errors.HS_WS_PRIVATE_ROOM_MISSING);
  }
  return unique;
}
