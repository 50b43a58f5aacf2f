import { createLogger, requestLogger } from '../src';

/** A logger of the service's settings whose lines land in an array, parsed. */
function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('test', level, {}, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe('requestLogger', () => {
  it('adds its bindings to every line the request writes, its children included, and nothing to the parent', () => {
    const { logger, lines } = capture();
    const request = requestLogger(logger, { reqId: 'req-7' });
    request.info({ route: '/api/auth/push' }, 'answered');
    request.child({ module: 'push' }).warn('slow');
    logger.info('not a request');
    expect(lines.map(({ msg, reqId, module, route }) => ({ msg, reqId, module, route }))).toEqual([
      { msg: 'answered', reqId: 'req-7', module: undefined, route: '/api/auth/push' },
      { msg: 'slow', reqId: 'req-7', module: 'push', route: undefined },
      { msg: 'not a request', reqId: undefined, module: undefined, route: undefined },
    ]);
  });

  it('follows the level of its logger and still redacts secrets', () => {
    const { logger, lines } = capture('warn');
    const request = requestLogger(logger, { reqId: 'req-8' });
    request.info('below the level');
    request.error({ settings: { password: 'hunter2' }, authorization: 'Basic abc' }, 'refused');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ reqId: 'req-8', msg: 'refused', settings: { password: '[redacted]' }, authorization: '[redacted]' });
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });
});
