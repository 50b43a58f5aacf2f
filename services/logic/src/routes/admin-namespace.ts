import { Type } from '@sinclair/typebox';
import { Errors, HeraldError, compileValidator, isValidName } from '@herald/protocol';
import type { AdminRouteContext } from './context';

const CallbackUrl = Type.Union([Type.Literal(''), Type.String({ maxLength: 2048, pattern: '^https?://[^\\s]+$' })]);

/** Fields of `POST /api/admin/namespace/save` besides `key` (APNs settings come with the APNs issue). */
const NamespaceSaveBody = Type.Object(
  {
    key: Type.String(),
    name: Type.Optional(Type.String({ maxLength: 100 })),
    auth_passwd: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    connect_callback: Type.Optional(CallbackUrl),
    disconnect_callback: Type.Optional(CallbackUrl),
    callback_auth: Type.Optional(Type.String({ maxLength: 1024 })),
    offline: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')])),
  },
  { additionalProperties: false },
);
const validSave = compileValidator(NamespaceSaveBody);

/** `POST /api/admin/namespace/save` (seed 002 route 13): create or update a namespace. */
export function adminNamespaceRoutes({ app, namespaces }: AdminRouteContext): void {
  app.post('/api/admin/namespace/save', async (request) => {
    const body = request.body as Record<string, unknown> | null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new HeraldError(Errors.BODY_INVALID, 'body must be a JSON object');
    }
    if (body['key'] === undefined || body['key'] === null || body['key'] === '') throw new HeraldError(Errors.KEY_IS_NULL);
    if (!isValidName('namespace', body['key'])) throw new HeraldError(Errors.NAMESPACE_INVALID);
    if (!validSave(body)) throw new HeraldError(Errors.BODY_INVALID, validSave.lastError());
    await namespaces.save(body.key, {
      ...(body.name !== undefined && { name: body.name }),
      ...(body.auth_passwd !== undefined && { password: body.auth_passwd }),
      ...(body.connect_callback !== undefined && { connectCallback: body.connect_callback }),
      ...(body.disconnect_callback !== undefined && { disconnectCallback: body.disconnect_callback }),
      ...(body.callback_auth !== undefined && { callbackAuth: body.callback_auth }),
      ...(body.offline !== undefined && { offline: body.offline === 'on' }),
      clientIp: request.ip,
    });
    return {};
  });

  app.post('/api/admin/login', async () => ({}));
}
