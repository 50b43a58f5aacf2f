import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI 3.1 description of the REST API, generated from the route schemas: served at
 * `/api/openapi.json` and browsable at `/api/docs` (Swagger UI, every asset served from this
 * process: no external URL). Both are public, like `/health`: they describe the API and hold no
 * data and no secret. Must be registered before the routes (swagger collects them as they are added).
 */
export function openApiPlugin(app: FastifyInstance): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Herald REST API',
        version: '1',
        description:
          'The REST API of Herald\'s logic service: third-party servers push and read reports with their namespace credentials, operators manage namespaces. ' +
          'Every error answer is `{code, msg}` from the error catalogue (docs/api.md); `x-herald-error` on a field names the catalogue error it is refused with, and `x-herald-order` the order of the checks.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      components: {
        securitySchemes: {
          namespace: { type: 'http', scheme: 'basic', description: 'User: the namespace key (e.g. `/demo`); password: its `auth_passwd`.' },
          admin: { type: 'http', scheme: 'basic', description: 'User and password: `HERALD_ADMIN_NAME` and `HERALD_ADMIN_PASSWORD`.' },
        },
      },
      tags: [
        { name: 'push', description: 'Publish messages.' },
        { name: 'reports', description: 'Delivery reports and who is online.' },
        { name: 'rooms', description: 'Room-wide operations.' },
        { name: 'clients', description: 'One client of the namespace.' },
        { name: 'namespaces', description: 'Namespace settings and clean-up.' },
        { name: 'meta', description: 'Health and this description.' },
      ],
    },
  });
  void app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true, uiConfig: { docExpansion: 'list', deepLinking: true } });
  void app.register(async (root) => {
    root.get(
      '/api/openapi.json',
      { schema: { tags: ['meta'], summary: 'This OpenAPI 3.1 document', response: { 200: Type.Object({}, { additionalProperties: true }) } } },
      async () => app.swagger(),
    );
  });
}
