import { metrics } from '@herald/metrics';
import { Errors, HeraldError, type CatalogueEntry } from '@herald/wire';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Errors of ioredis that mean "Redis cannot take this right now", not "the request is wrong": not
 * reachable, still loading, or full (`OOM command not allowed …`: maxmemory reached under the
 * `noeviction` policy of deploy/redis/redis.conf, which refuses writes instead of dropping keys).
 */
export function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|LOADING|ETIMEDOUT|^OOM |^Command timed out/.test(error.message)
  );
}

/** Fastify's own request errors, by code, mapped onto the catalogue. */
const FASTIFY_ERRORS: Record<string, CatalogueEntry> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: Errors.CONTENT_TYPE_INVALID,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: Errors.BODY_INVALID,
  FST_ERR_CTP_EMPTY_JSON_BODY: Errors.JSON_INVALID,
  FST_ERR_CTP_BODY_TOO_LARGE: Errors.BODY_TOO_LARGE,
  FST_ERR_CTP_INVALID_JSON_BODY: Errors.JSON_INVALID,
};

/**
 * Every failure is answered as JSON `{code, msg}` with the catalogue's status. Bad input is never
 * a 5xx; a 500 means a bug and is logged with its stack; Redis being away is a 503.
 */
export function errorsPlugin(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HeraldError | Error, request, reply) => {
    let herald: HeraldError;
    if (error instanceof HeraldError) {
      herald = error;
    } else if ('code' in error && typeof error.code === 'string' && FASTIFY_ERRORS[error.code]) {
      herald = new HeraldError(FASTIFY_ERRORS[error.code]!);
    } else if (error instanceof SyntaxError || ('statusCode' in error && error.statusCode === 400)) {
      // The JSON parser's refusals (malformed JSON, `__proto__` / `constructor.prototype` keys).
      herald = new HeraldError(Errors.JSON_INVALID);
    } else if (isStoreUnavailable(error)) {
      request.log.warn({ err: error.message }, 'redis unavailable');
      herald = new HeraldError(Errors.STORE_UNAVAILABLE);
      void reply.header('retry-after', '1');
    } else {
      request.log.error({ err: error }, 'unexpected error');
      herald = new HeraldError(Errors.INTERNAL);
    }
    if (request.routeOptions.url === '/api/auth/push') metrics.pushRefused(request.namespace?.key, herald.code);
    return reply.status(herald.status).send(herald.toBody());
  });

  app.setNotFoundHandler((_request, reply) => {
    const herald = new HeraldError(Errors.ROUTE_NOT_FOUND);
    return reply.status(herald.status).send(herald.toBody());
  });
}

/**
 * Fastify's refusals made before a route is found (`frameworkErrors` option): a URL that does not
 * decode, a path parameter above `maxParamLength`. The path is not echoed.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const entry = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? Errors.URL_TOO_LONG : error.code === 'FST_ERR_BAD_URL' ? Errors.URL_INVALID : Errors.HTTP_INVALID;
  void reply.status(entry.status).send(new HeraldError(entry).toBody());
}

/**
 * Requests the HTTP parser refuses before fastify sees them (`clientErrorHandler` option): headers
 * above Node's `maxHeaderSize` (431), a request that took too long (408), malformed HTTP (400).
 * Answered on the raw socket like Node's own handler, but with a catalogue body.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const entry =
    error.code === 'HPE_HEADER_OVERFLOW' ? Errors.HEADERS_TOO_LARGE : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? Errors.REQUEST_TIMEOUT : Errors.HTTP_INVALID;
  const body = JSON.stringify(new HeraldError(entry).toBody());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${entry.status} ${STATUS_TEXT[entry.status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };
