import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Errors, HeraldError } from '@herald/wire';
import type { FastifyInstance } from 'fastify';

/** Where the console's files are: committed as they are served, no build step (docs/console.md). */
export const CONSOLE_DIR = join(__dirname, '..', 'console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Everything the page may load comes from logic itself: no CDN, no inline script, no framing (the
 * console holds the admin password in its session).
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * Serves the admin console at `/push-admin/` (where the seed's admin SPA lived behind nginx): the files of {@link CONSOLE_DIR}, read once at start
 * into memory (a few kilobytes). Only those names are served, so no path can reach another file.
 */
export function consoleRoutes(app: FastifyInstance, dir: string = CONSOLE_DIR): void {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { body: readFileSync(join(dir, name)), type });
  }
  // Relative, so that it also lands right behind a proxy prefix (/push-logic/push-admin → …/push-admin/).
  app.get('/push-admin', async (_request, reply) => reply.redirect('push-admin/'));
  app.get<{ Params: { '*': string } }>('/push-admin/*', async (request, reply) => {
    const file = files.get(request.params['*'] || 'index.html');
    if (!file) throw new HeraldError(Errors.ROUTE_NOT_FOUND);
    return reply.headers(SECURITY_HEADERS).type(file.type).send(file.body);
  });
}
