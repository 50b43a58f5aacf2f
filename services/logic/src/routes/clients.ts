import { Errors, HeraldError, parseFlag } from '@herald/protocol';
import { CLIENT_SETTINGS, type ClientSettings, type ClientStore } from '@herald/store';
import type { AuthRouteContext } from './context';

const LIMITS: Record<(typeof CLIENT_SETTINGS)[number], number> = { device_token: 512, mobile: 32, system: 128, leaveMessage: 5 };

/** The record of a client of `namespace`, or CLIENT_NOT_FOUND: a namespace sees only its own clients. */
async function ownClient(clients: ClientStore, namespace: string, id: unknown): Promise<Record<string, string>> {
  if (typeof id !== 'string' || id.length === 0 || id.length > 400) throw new HeraldError(Errors.CLIENT_NOT_FOUND);
  const record = await clients.record(id);
  if (record['namespace'] !== namespace) throw new HeraldError(Errors.CLIENT_NOT_FOUND);
  return clients.publicRecord(id);
}

/**
 * One client of the caller's namespace (seed 002 route 6; the README's GET form too). The seed let
 * any namespace read any client; Herald answers `client not found` for another namespace's client.
 */
export function clientRoutes({ app, clients }: AuthRouteContext): void {
  app.get<{ Params: { id: string } }>('/api/auth/client/:id', async (request) => {
    return ownClient(clients, request.namespace!.key, request.params.id);
  });

  app.post('/api/auth/client', async (request) => {
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HeraldError(Errors.BODY_INVALID, 'body must be a JSON object');
    const { id, ...rest } = body as Record<string, unknown>;
    const record = await ownClient(clients, request.namespace!.key, id);
    const settings: ClientSettings = {};
    for (const [key, value] of Object.entries(rest)) {
      if (!(CLIENT_SETTINGS as readonly string[]).includes(key)) throw new HeraldError(Errors.UNKNOWN_FIELD, key.slice(0, 64));
      const field = key as (typeof CLIENT_SETTINGS)[number];
      if (field === 'leaveMessage') {
        const flag = parseFlag(value);
        if (flag === undefined) throw new HeraldError(Errors.LEAVE_MESSAGE_INVALID);
        settings.leaveMessage = String(flag);
      } else if (typeof value !== 'string' || value.length > LIMITS[field]) {
        throw new HeraldError(Errors.BODY_INVALID, `${field} must be a string of at most ${LIMITS[field]} characters`);
      } else {
        settings[field] = value;
      }
    }
    if (Object.keys(settings).length === 0) return record;
    await clients.updateSettings(id as string, settings);
    return {};
  });
}
