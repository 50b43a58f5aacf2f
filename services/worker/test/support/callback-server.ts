import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the server answers one request: a status, or `hold` until `release()`. */
export type Reply = number | 'hold';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The body parsed as JSON (the raw text when it is not JSON). */
  readonly body: unknown;
  readonly receivedAt: number;
  /** When the server finished writing its answer; undefined while held or when never answered. */
  answeredAt?: number;
}

/**
 * A local HTTP receiver for webhooks on port 0: it records every request and answers each path as
 * scripted (one reply per request, the last reply repeating; 200 when unscripted).
 */
export class CallbackServer {
  private readonly server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.onRequest(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks).toString(), res));
  });
  private readonly recorded = new Map<string, RecordedRequest[]>();
  private readonly scripts = new Map<string, Reply[]>();
  private readonly held = new Map<string, ServerResponse[]>();
  private readonly events = new EventEmitter();
  private port = 0;

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** `http://127.0.0.1:<port><path>`. */
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  script(path: string, replies: Reply[]): void {
    this.scripts.set(path, [...replies]);
  }

  /** Requests received on a path (without its query), in order. */
  requests(path: string): RecordedRequest[] {
    return this.recorded.get(path) ?? [];
  }

  /** Every request received, whatever the path. */
  all(): RecordedRequest[] {
    return [...this.recorded.values()].flat();
  }

  /** Resolves once `count` requests have arrived on `path`. */
  async waitForRequests(path: string, count: number): Promise<RecordedRequest[]> {
    while (this.requests(path).length < count) await once(this.events, `request:${path}`);
    return this.requests(path);
  }

  /** Answers the held requests of a path. */
  release(path: string, status = 200): void {
    for (const res of this.held.get(path)?.splice(0) ?? []) res.writeHead(status).end();
  }

  async close(): Promise<void> {
    for (const path of this.held.keys()) this.release(path, 503);
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  private onRequest(method: string, url: string, headers: IncomingHttpHeaders, text: string, res: ServerResponse): void {
    const path = url.split('?')[0]!;
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // kept as text
    }
    const request: RecordedRequest = { method, url, headers, body, receivedAt: Date.now() };
    res.on('finish', () => (request.answeredAt = Date.now()));
    const list = this.recorded.get(path) ?? [];
    list.push(request);
    this.recorded.set(path, list);

    const script = this.scripts.get(path) ?? [];
    const reply = script.length > 1 ? script.shift()! : (script[0] ?? 200);
    if (reply === 'hold') {
      const held = this.held.get(path) ?? [];
      held.push(res);
      this.held.set(path, held);
    } else {
      res.writeHead(reply).end();
    }
    this.events.emit(`request:${path}`);
  }
}
