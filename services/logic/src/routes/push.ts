import { Errors, HeraldError, validatePushRequest, type PushRequest } from '@herald/protocol';
import { Type } from '@sinclair/typebox';
import type { AuthRouteContext } from './context';
import { idempotencyOf } from './idempotency';

/** One answer of the batch route: the push's result, or its catalogue error. */
const BatchAnswer = Type.Union([
  Type.Object({ id: Type.Integer(), expectAckCount: Type.Integer() }, { additionalProperties: false }),
  Type.Object({ code: Type.String(), msg: Type.String() }, { additionalProperties: false }),
]);

/**
 * `POST /api/auth/push` (seed 002 route 1) and `POST /api/auth/push/batch`: store, count, publish and
 * check the failed-authentication limit in one script call (PushService), with an optional
 * `Idempotency-Key` (docs/api.md).
 */
export function pushRoutes({ app, push, failures, pushLimits }: AuthRouteContext): void {
  app.post('/api/auth/push', { config: { authFailuresInRoute: true } }, async (request) => {
    const namespace = request.namespace!;
    const idempotency = idempotencyOf(request, pushLimits.idempotencyTtlS);
    const body = validatePushRequest(request.body, namespace.offline);
    return push.push(namespace.key, body, undefined, { authFailures: failures.limitFor(request.ip), ...(idempotency ? { idempotency } : {}) });
  });

  app.post(
    '/api/auth/push/batch',
    {
      config: { authFailuresInRoute: true },
      schema: {
        body: Type.Array(Type.Unknown(), { minItems: 1, maxItems: pushLimits.batchMax }),
        response: { 200: Type.Array(BatchAnswer) },
      },
      // The schema's refusal is answered with the catalogue entry below, not fastify's text.
      attachValidation: true,
      // Fastify's Ajv coerces a scalar to a one-element array (`coerceTypes: 'array'`): a body
      // that is not an array is refused before that can happen.
      preValidation: async (request) => {
        if (!Array.isArray(request.body)) throw new HeraldError(Errors.PUSH_BATCH_INVALID);
      },
    },
    async (request) => {
      if (request.validationError) throw new HeraldError(Errors.PUSH_BATCH_INVALID);
      const namespace = request.namespace!;
      const idempotency = idempotencyOf(request, pushLimits.idempotencyTtlS);
      const answers: ({ id: number; expectAckCount: number } | { code: string; msg: string })[] = [];
      const valid: PushRequest[] = [];
      const at: number[] = [];
      (request.body as unknown[]).forEach((item, i) => {
        try {
          valid.push(validatePushRequest(item, namespace.offline));
          at.push(i);
        } catch (error) {
          if (!(error instanceof HeraldError)) throw error;
          answers[i] = error.toBody();
        }
      });
      if (valid.length === 0) {
        // Nothing reaches the store script, which would have checked the limit.
        await failures.check(request.ip);
        return answers;
      }
      const results = await push.pushBatch(namespace.key, valid, { authFailures: failures.limitFor(request.ip), ...(idempotency ? { idempotency } : {}) });
      results.forEach((result, n) => (answers[at[n]!] = result));
      return answers;
    },
  );
}
