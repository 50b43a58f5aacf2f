import type { FastifyInstance } from 'fastify';

/**
 * CORS as the seed answered it (spec 002, REST API middleware): every response reflects the Origin
 * with credentials allowed, and a preflight `OPTIONS` is answered 200 without authentication —
 * the seed's admin single-page app relies on it.
 */
export function corsPlugin(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin) {
      void reply.header('access-control-allow-origin', origin);
      void reply.header('access-control-allow-credentials', 'true');
      void reply.header('vary', 'Origin');
    }
  });
  // Not an API route: hidden from the OpenAPI document.
  app.options('/*', { schema: { hide: true } }, async (_request, reply) => {
    void reply.header('access-control-allow-methods', 'GET, POST');
    void reply.header(
      'access-control-allow-headers',
      'Content-Type, AdminKey, Nonce, Timestamp, Signature, AppKey, Token, AppId, RefKey, Authorization',
    );
    void reply.header('access-control-max-age', '2592000');
    return reply.status(200).send();
  });
}
