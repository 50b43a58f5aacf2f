import { ChatDeviceBody, Errors, HeraldError } from '@herald/wire';
import type { ChatStore } from '@herald/store';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { answers } from '../responses';

/** What the chat routes get: the authenticated `/api/auth/*` app and the chat store. */
export interface ChatRouteContext {
  readonly app: FastifyInstance;
  readonly chat: ChatStore;
}

const DeviceAnswer = Type.Object(
  {
    userId: Type.String({ description: 'The user.' }),
    registered: Type.Boolean({ description: 'true: the device token is registered; false: the registration was removed.' }),
  },
  { additionalProperties: false },
);

/**
 * The chat protocol's REST route (seed 004; docs/protocols/chat.md): a third-party server
 * registers the iOS device of one of its users, as the user's own `device/register` event does.
 * Offline, that user then gets an APNs alert for each message. Namespace Basic Auth, like the push
 * API; only a `chat` namespace has chat users.
 */
export function chatRoutes({ app: plain, chat }: ChatRouteContext): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/api/auth/chat/device',
    {
      schema: {
        tags: ['chat'],
        security: [{ namespace: [] }],
        summary: 'Register (or with `deviceToken: null` remove) the iOS device of a chat user',
        body: ChatDeviceBody,
        response: answers(DeviceAnswer, { body: true }),
      },
    },
    async (request) => {
      const namespace = request.namespace!;
      if (namespace.protocol !== 'chat') throw new HeraldError(Errors.CHAT_PROTOCOL_REQUIRED);
      const { userId, deviceToken } = request.body;
      await chat.registerDevice(namespace.key, userId, deviceToken);
      return { userId, registered: deviceToken !== null };
    },
  );
}
