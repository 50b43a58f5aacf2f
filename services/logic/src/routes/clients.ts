import { ClientSettingFields, Errors, HeraldError, checkOrder, onError, parseFlag } from '@herald/wire';
import type { ClientSettings, ClientStore } from '@herald/store';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuthRouteContext } from './context';
import { answers } from './responses';

/** A clientId as a route takes it: anything longer is no client of Herald's. */
const ClientId = Type.String({ minLength: 1, maxLength: 400, description: 'The clientId, `<namespace>#<userid>#<platform>-<uuid>`.', ...onError({ error: 'CLIENT_NOT_FOUND' }) });

/** `POST /api/auth/client`: the client, then the settings the socket `info` event takes too (libs/wire client-settings.ts). */
const ClientBody = Type.Object({ id: ClientId, ...ClientSettingFields }, { additionalProperties: false, ...checkOrder({ order: ['*', 'id'], unknown: 'UNKNOWN_FIELD' }) });

/** The client's record (`userid`, `platform`, connect and disconnect times, settings …), or `{}` after a change. */
const ClientRecord = Type.Record(Type.String(), Type.String());

/** The record of a client of `namespace`, or CLIENT_NOT_FOUND: a namespace sees only its own clients. */
async function ownClient(clients: ClientStore, namespace: string, id: string): Promise<Record<string, string>> {
  const record = await clients.record(id);
  if (record['namespace'] !== namespace) throw new HeraldError(Errors.CLIENT_NOT_FOUND);
  return clients.publicRecord(id);
}

const auth = { tags: ['clients'], security: [{ namespace: [] }] };

/**
 * One client of the caller's namespace (seed 002 route 6; the README's GET form too). The seed let
 * any namespace read any client; Herald answers `client not found` for another namespace's client.
 */
export function clientRoutes({ app: plain, clients }: AuthRouteContext): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api/auth/client/:id',
    { schema: { ...auth, summary: 'One client of the namespace', params: Type.Object({ id: ClientId }), response: answers(ClientRecord) } },
    async (request) => ownClient(clients, request.namespace!.key, request.params.id),
  );

  app.post(
    '/api/auth/client',
    { schema: { ...auth, summary: 'Set the settings of a client, or read it', body: ClientBody, response: answers(ClientRecord, { body: true }) } },
    async (request) => {
      const { id, leaveMessage, ...texts } = request.body;
      const record = await ownClient(clients, request.namespace!.key, id);
      const settings: ClientSettings = { ...texts, ...(leaveMessage !== undefined && { leaveMessage: String(parseFlag(leaveMessage)) }) };
      if (Object.keys(settings).length === 0) return record;
      await clients.updateSettings(id, settings);
      return {};
    },
  );
}
