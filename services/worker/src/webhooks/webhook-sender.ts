import { isRefusedCallbackUrl } from '@herald/wire';
import { UnrecoverableError } from 'bullmq';

/** One outgoing webhook request, ready to send. */
export interface WebhookRequest {
  readonly url: URL;
  /** @default 'POST' */
  readonly method?: 'POST' | 'PUT';
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as JSON. */
  readonly body: unknown;
  /** Covers the whole exchange: connect, send, response head. */
  readonly timeoutMs: number;
  /** HERALD_CALLBACK_ALLOW_PRIVATE: the URL may resolve to a loopback or link-local address. */
  readonly allowPrivate: boolean;
}

/**
 * A delivery attempt failed in a way that may pass (5xx, 408, 429, timeout, network error): BullMQ
 * retries it with backoff. Its message is the reason kept in logs and dead letters, so it never holds
 * the URL, a header or the body.
 */
export class WebhookDeliveryError extends Error {
  override readonly name = 'WebhookDeliveryError';

  constructor(
    reason: string,
    /** The HTTP status, when the receiver answered. */
    readonly status?: number,
  ) {
    super(reason);
  }
}

/**
 * What an HTTP status means for a webhook:
 * - 2xx: delivered;
 * - 408 Request Timeout, 425 Too Early, 429 Too Many Requests and 5xx: the receiver may accept it
 *   later (RFC 9110 §15.5.9, RFC 8470 §5.2, RFC 6585 §4), retry;
 * - any other 4xx: the receiver refuses this request as such, retrying sends the same refusal;
 * - 3xx: redirects are not followed (see `sendWebhook`), and the configured URL is what has to change.
 */
export function classifyStatus(status: number): 'delivered' | 'retry' | 'permanent' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 425 || status === 429) return 'retry';
  if (status >= 300 && status < 500) return 'permanent';
  return 'retry';
}

/** Checks a callback URL from a namespace record; a URL that can never work fails for good. */
export function parseCallbackUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UnrecoverableError('invalid callback URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UnrecoverableError('callback URL is not http(s)');
  // fetch refuses URLs with credentials (WHATWG Fetch, "Request" constructor step 7).
  if (url.username || url.password) throw new UnrecoverableError('callback URL holds credentials');
  return url;
}

/** Reads `name`, `code`, `message`, `cause` of a thrown value without `instanceof`, which fails for
 * errors from another realm (undici's, under jest's VM context). */
function field(value: unknown, key: 'name' | 'code' | 'message' | 'cause'): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function networkReason(error: unknown): string {
  // undici rejects with `TypeError: fetch failed` and the socket error as `cause`. Its message may
  // name the URL, so the code is kept (ECONNREFUSED, ENOTFOUND…), or else a message without a path.
  const cause = field(error, 'cause');
  const code = field(cause, 'code');
  if (typeof code === 'string') return `network error (${code})`;
  const message = field(cause, 'message');
  if (typeof message === 'string' && message && !/[/?@]/.test(message)) return `network error (${message.slice(0, 80)})`;
  return 'network error';
}

/**
 * POSTs a webhook with the global fetch and resolves with the 2xx status; the response body is
 * ignored (seed: "the response is ignored"). Throws `WebhookDeliveryError` for what may pass and
 * BullMQ's `UnrecoverableError` for what cannot.
 *
 * Redirects are not followed: a 301/302 would turn the POST into a GET, and following one to another
 * host would carry the cookie there.
 */
export async function sendWebhook(request: WebhookRequest): Promise<number> {
  let headers: Headers;
  try {
    headers = new Headers({ ...request.headers, 'content-type': 'application/json' });
  } catch {
    // A header value that HTTP cannot carry (e.g. a line break in callback_auth) never will.
    throw new UnrecoverableError('invalid header value');
  }
  // A tenant must not reach Herald's own host or the cloud metadata service through its callback.
  if (!request.allowPrivate && (await isRefusedCallbackUrl(request.url.href))) {
    throw new UnrecoverableError('callback address refused (loopback, link-local or metadata; HERALD_CALLBACK_ALLOW_PRIVATE)');
  }
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method ?? 'POST',
      headers,
      body: JSON.stringify(request.body),
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  } catch (error) {
    const name = field(error, 'name');
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new WebhookDeliveryError(`timeout after ${request.timeoutMs} ms`);
    }
    throw new WebhookDeliveryError(networkReason(error));
  }
  // Release the connection without reading a body nobody needs.
  await response.body?.cancel().catch(() => undefined);
  const status = response.status;
  switch (classifyStatus(status)) {
    case 'delivered':
      return status;
    case 'permanent':
      throw new UnrecoverableError(`HTTP ${status}`);
    default:
      throw new WebhookDeliveryError(`HTTP ${status}`, status);
  }
}
