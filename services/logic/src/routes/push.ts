import { validatePushRequest } from '@herald/protocol';
import type { AuthRouteContext } from './context';

/** `POST /api/auth/push` (seed 002 route 1): store, then publish, then schedule the offline step. */
export function pushRoutes({ app, push }: AuthRouteContext): void {
  app.post('/api/auth/push', async (request) => {
    const namespace = request.namespace!;
    const body = validatePushRequest(request.body, namespace.offline);
    return push.push(namespace.key, body);
  });
}
