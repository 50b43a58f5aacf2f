import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { API_EXAMPLES } from '../openapi-examples';

interface MediaType {
  example?: unknown;
  examples?: Record<string, { summary: string; value: unknown }>;
}

/** Adds a named example; OpenAPI allows `example` or `examples`, so a schema's own example joins the list. */
function addExample(media: MediaType, name: string, summary: string, value: unknown): void {
  const examples = { ...media.examples };
  if (media.example !== undefined) {
    examples['schema'] = { summary: 'from the schema', value: media.example };
    delete media.example;
  }
  media.examples = { ...examples, [name]: { summary, value } };
}
interface Operation {
  requestBody?: { content?: Record<string, MediaType> };
  responses?: Record<string, { content?: Record<string, MediaType> }>;
}
type OpenApiDocument = { paths?: Record<string, Record<string, Operation>> } & Record<string, unknown>;

/** The operation a concrete request of docs/api.md belongs to, by its path template. */
function operationOf(doc: OpenApiDocument, method: string, url: string): Operation | undefined {
  const path = url.split('?')[0]!;
  for (const [template, operations] of Object.entries(doc.paths ?? {})) {
    const pattern = new RegExp(`^${template.replace(/\{[^/]+\}/g, '[^/]+')}$`);
    if (pattern.test(path)) return operations[method.toLowerCase()];
  }
  return undefined;
}

/**
 * Adds the examples of docs/api.md (openapi-examples.ts, generated from the document the tests
 * run) to the operations they call: the request body, and the answer under its status.
 */
function withExamples(doc: OpenApiDocument): OpenApiDocument {
  API_EXAMPLES.forEach((example, i) => {
    const operation = operationOf(doc, example.method, example.path);
    if (!operation) return;
    const name = `example${i + 1}`;
    const summary = `${example.method} ${example.path} → ${example.status}`;
    const request = operation.requestBody?.content?.['application/json'];
    if (request && example.body !== undefined && typeof example.body === 'object') {
      addExample(request, name, summary, example.body);
    }
    const answer = operation.responses?.[String(example.status)]?.content;
    const media = answer?.['application/json'] ?? (answer ? Object.values(answer)[0] : undefined);
    if (media && example.answer !== undefined) addExample(media, name, summary, example.answer);
  });
  return doc;
}

/**
 * The OpenAPI 3.1 description of the REST API, generated from the route schemas: served at
 * `/api/openapi.json` and browsable at `/api/docs` (Swagger UI, every asset served from this
 * process: no external URL). Both are public, like `/health`: they describe the API and hold no
 * data and no secret. Must be registered before the routes (swagger collects them as they are added).
 */
export function openApiPlugin(app: FastifyInstance): void {
  void app.register(swagger, {
    transformObject: (document) => withExamples(('openapiObject' in document ? document.openapiObject : document.swaggerObject) as unknown as OpenApiDocument) as never,
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
        { name: 'webservice', description: 'Seed 001 routes of webservice namespaces (plain-text answers).' },
        { name: 'chat', description: 'The chat protocol (seed 004): iOS devices of chat users.' },
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
