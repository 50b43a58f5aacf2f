import { Errors, HeraldError } from '@herald/protocol';
import { publicNamespace, saveNamespace } from './admin-namespace';
import type { AuthRouteContext } from './context';
import { readQuery } from './query';

/**
 * `/api/auth/namespace*` (seed 002 routes 9–10): a namespace reads and updates itself. The seed
 * answered its password and certificates; Herald redacts them (publicNamespace). A save can only
 * name the caller's own namespace.
 */
export function authNamespaceRoutes({ app, namespaces }: AuthRouteContext): void {
  app.get('/api/auth/namespace', async (request) => {
    readQuery(request.query, []);
    // The authentication read the settings only; the view needs the APNs list too.
    const record = await namespaces.get(request.namespace!.key);
    if (!record) throw new HeraldError(Errors.NAMESPACE_NOT_FOUND);
    return publicNamespace(record);
  });

  app.post('/api/auth/namespace/save', async (request) => {
    const own = request.namespace!.key;
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new HeraldError(Errors.BODY_INVALID, 'body must be a JSON object');
    }
    const key = (body as Record<string, unknown>)['key'];
    if (key !== undefined && key !== own) throw new HeraldError(Errors.NAMESPACE_KEY_MISMATCH);
    await saveNamespace(namespaces, { ...body, key: own }, request.ip);
    return {};
  });
}
