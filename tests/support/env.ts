import { delimiter, dirname } from 'node:path';

/**
 * The environment of an operator who set nothing: no HERALD_* or PM2_* variable of the caller leaks
 * in, and the redis-server that `npm test` chose (HERALD_REDIS_SERVER) comes first on the PATH.
 */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('HERALD_') && !name.startsWith('PM2_')) env[name] = value;
  }
  const chosen = process.env['HERALD_REDIS_SERVER'];
  if (chosen) env['PATH'] = `${dirname(chosen)}${delimiter}${env['PATH'] ?? ''}`;
  return env;
}
