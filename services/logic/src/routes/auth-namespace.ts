import { Errors, HeraldError } from '@herald/wire';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { OwnSaveBody, PublicNamespaceSchema, publicNamespace, saveNamespace } from './admin-namespace';
import type { AuthRouteContext } from './context';
import { NoQuery } from './query-params';
import { Empty, answers } from './responses';

const own = { tags: ['namespaces'], security: [{ namespace: [] }] };

/**
 * `/api/auth/namespace*` (seed 002 routes 9–10): a namespace reads and updates itself. The seed
 * answered its password and certificates; Herald redacts them (publicNamespace). A save can only
 * name the caller's own namespace.
 */
export function authNamespaceRoutes({ app: plain, namespaces, allowPrivateCallbacks }: AuthRouteContext): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api/auth/namespace',
    { schema: { ...own, summary: 'The namespace of the credentials, secrets redacted', querystring: NoQuery, response: answers(PublicNamespaceSchema) } },
    async (request) => {
      // The authentication read the settings only; the view needs the APNs list too.
      const record = await namespaces.get(request.namespace!.key);
      if (!record) throw new HeraldError(Errors.NAMESPACE_NOT_FOUND);
      return publicNamespace(record);
    },
  );

  app.post(
    '/api/auth/namespace/save',
    { schema: { ...own, summary: 'Change the namespace of the credentials', body: OwnSaveBody, response: answers(Empty, { body: true }) } },
    async (request) => {
      const ownKey = request.namespace!.key;
      const { key, ...settings } = request.body;
      if (key !== undefined && key !== ownKey) throw new HeraldError(Errors.NAMESPACE_KEY_MISMATCH);
      await saveNamespace(namespaces, ownKey, settings, request.ip, allowPrivateCallbacks);
      return {};
    },
  );
}
