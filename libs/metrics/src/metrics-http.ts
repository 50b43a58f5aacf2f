import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HeraldMetrics } from './herald-metrics';

function isPath(req: IncomingMessage, path: string): boolean {
  return req.method === 'GET' && (req.url === path || req.url?.startsWith(`${path}?`) === true);
}

/**
 * Answers `GET /metrics` on a plain node HTTP server and returns true, or returns false for any
 * other request (the connector's handler goes on with `/health` and its 404).
 */
export function serveMetrics(metrics: HeraldMetrics, req: IncomingMessage, res: ServerResponse): boolean {
  if (!isPath(req, '/metrics')) return false;
  metrics.scrape(req.headers.authorization).then(
    (answer) => res.writeHead(answer.status, answer.headers).end(answer.body),
    () => res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end('{"code":"INTERNAL","msg":"internal error"}'),
  );
  return true;
}

/**
 * A small HTTP server of its own for a process without one (the worker) or whose port is shared
 * (logic in pm2 cluster mode): `/health` answers `hello` like the other roles, `/metrics` the
 * metrics, anything else 404. Unstarted: the caller listens.
 */
export function createMetricsServer(metrics: HeraldMetrics): Server {
  return createServer((req, res) => {
    if (serveMetrics(metrics, req, res)) return;
    if (isPath(req, '/health')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end('{"code":"ROUTE_NOT_FOUND","msg":"route not found"}');
  });
}
