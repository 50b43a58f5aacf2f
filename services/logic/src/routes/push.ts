import { PushBody, validatePushRequest } from '@herald/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifySchemaCompiler } from 'fastify';
import type { AuthRouteContext } from './context';
import { answers } from './responses';

export const PushAnswer = Type.Object(
  {
    id: Type.Integer({ minimum: 1, description: 'The message id (increasing per namespace).' }),
    expectAckCount: Type.Integer({ minimum: 0, description: 'Clients online in the room when the push was accepted, minus `except`.' }),
  },
  { additionalProperties: false },
);

/**
 * The push body is checked by validatePushRequest, which runs the PushBody schema and places the
 * namespace's offline state where the seed checked it (after `except`, before `expire`) — fastify's
 * validation runs before the handler knows that state, so it is skipped for the body here.
 */
const checkedInHandler: FastifySchemaCompiler<unknown> = () => () => true;

/** `POST /api/auth/push` (seed 002 route 1): store, then publish, then schedule the offline step. */
export function pushRoutes({ app, push }: AuthRouteContext): void {
  app.post(
    '/api/auth/push',
    {
      schema: { summary: 'Push a message to a room', tags: ['push'], security: [{ namespace: [] }], body: PushBody, response: answers(PushAnswer, { body: true }) },
      validatorCompiler: checkedInHandler,
    },
    async (request) => {
      const namespace = request.namespace!;
      const body = validatePushRequest(request.body, namespace.offline);
      return push.push(namespace.key, body);
    },
  );
}
