import type { Logger } from '@herald/log';
import { Errors, HeraldError, type ChatAck } from '@herald/wire';

/**
 * The chat protocol answers every event in the seed's envelope `{statusCode, body}`: success as the
 * seed did (200 for `logIn`, 201 for what the server created), errors with the catalogue's status
 * and `{code, msg}` (the seed ignored bad payloads silently; a client then waited for ever).
 */
export function reply(ack: unknown, answer: ChatAck): void {
  if (typeof ack === 'function') (ack as (a: ChatAck) => void)(answer);
}

export function errorAnswer(error: unknown, logger: Logger): ChatAck<{ code: string; msg: string }> {
  if (error instanceof HeraldError) return { statusCode: error.status, body: error.toBody() };
  logger.warn({ err: error }, 'chat event failed');
  const unavailable = new HeraldError(Errors.STORE_UNAVAILABLE);
  return { statusCode: unavailable.status, body: unavailable.toBody() };
}

/** Runs an event's work and answers its ack with the result or the error; never throws. */
export function answer(ack: unknown, logger: Logger, work: () => Promise<ChatAck>): void {
  work().then(
    (result) => reply(ack, result),
    (error: unknown) => reply(ack, errorAnswer(error, logger)),
  );
}
