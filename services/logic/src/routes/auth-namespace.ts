import type { AuthRouteContext } from './context';

/** `/api/auth/namespace*`: a namespace reads and updates itself. */
export function authNamespaceRoutes(_context: AuthRouteContext): void {}
