/**
 * The delivery ledger (issue 7): a whole Herald as real processes — Redis with AOF, logic, N
 * connectors, K workers, the APNs mock — with acking socket.io clients, and a ledger keyed by
 * message id that says, for every accepted push and every recipient, how it ended:
 *
 *   accepted → acked live by the client | replayed from the inbox and acked | accepted by APNs |
 *              failed for good with a reason (the APNs outcome)
 *
 * After quiescence `lost = expected end states − end states reached` must be 0; deliveries beyond
 * the first of a (message, recipient) pair are counted as duplicates. Fault scenarios drive the
 * load with {@link Ledger.load}, hurt a process, and call {@link Ledger.settle}.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { Keys } from '@herald/store';
import { startApnsMock, startRedis, startService, until, type ApnsMock, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { basic, emitWithAck, offlineIosMember, type TestSocket } from './clients';
import { ADMIN, ADMIN_PASSWORD } from './stack';

export const LEDGER_NAMESPACE = '/ledger';
const ROOM = 'fanout';
export const LEDGER_TOPIC = 'com.herald.ledger';
const TOPIC = LEDGER_TOPIC;
const PASSWORD = 'ledger-pw';
const keys = new Keys('h:');

export interface LedgerOptions {
  readonly connectors?: number;
  readonly workers?: number;
  /** Android clients (inbox platform), spread over the connectors. @default 30 */
  readonly clients?: number;
  /** Offline iOS members with a device token, reached through the APNs mock. @default 3 */
  readonly iosDevices?: number;
  /** Redis persistence. @default 'always' */
  readonly appendfsync?: 'always' | 'everysec';
  /** Extra environment for every service. */
  readonly env?: Record<string, string>;
}

/** One acking Android client; it reconnects to a live connector when its socket is lost. */
export class LedgerClient {
  socket: TestSocket | undefined;
  /** Message id → how many times it arrived (live or replayed). */
  readonly received = new Map<number, number>();
  /** Per lost socket: ms from the disconnect to `ok` on a connector again. */
  readonly recoveries: number[] = [];
  connector = -1;
  private closing = false;

  constructor(
    private readonly ledger: Ledger,
    readonly uuid: string,
  ) {}

  /** Ids whose first arrival was an inbox replay (`offlineMessage`) rather than a live push. */
  readonly fromInbox = new Set<number>();

  private take(id: number, via: 'live' | 'inbox'): void {
    const times = this.received.get(id) ?? 0;
    if (times === 0 && via === 'inbox') this.fromInbox.add(id);
    this.received.set(id, times + 1);
  }

  /** Connects to connector `index` (or the next live one), joins the room; resolves on `ok`. */
  async connect(index: number): Promise<void> {
    for (;;) {
      const port = this.ledger.connectorPort(index);
      if (port !== undefined) {
        try {
          await this.open(port);
          this.connector = index;
          return;
        } catch {
          // That connector is going away (SIGTERM) or gone: the next live one, as a balancer would.
        }
      }
      if (this.closing) return;
      index = this.ledger.nextLive(index);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private open(port: number): Promise<void> {
    const socket: TestSocket = io(`http://127.0.0.1:${port}${LEDGER_NAMESPACE}`, {
      query: { uuid: this.uuid, platform: 'android' },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    socket.on('push', (message) => {
      this.take(message.id, 'live');
      socket.emit('ackPush', { id: message.id });
    });
    socket.on('offlineMessage', (messages: { id: number }[], ack?: () => void) => {
      for (const m of messages) this.take(m.id, 'inbox');
      ack?.();
    });
    return new Promise((resolve, reject) => {
      socket.once('ok', () => {
        this.socket = socket;
        socket.once('disconnect', (reason) => {
          if (this.closing || reason === 'io client disconnect') return;
          const lostAt = Date.now();
          void this.connect(this.ledger.nextLive(this.connector)).then(() => {
            if (!this.closing) this.recoveries.push(Date.now() - lostAt);
          });
        });
        resolve();
      });
      socket.once('connect_error', (error) => {
        socket.close();
        reject(error);
      });
    });
  }

  /** Closes the socket and connects again (to the same connector when alive): the inbox comes. */
  async reconnect(): Promise<void> {
    const socket = this.socket;
    if (socket?.connected) {
      const gone = new Promise((r) => socket.once('disconnect', r));
      socket.close();
      await gone;
    }
    await this.connect(this.connector);
  }

  close(): void {
    this.closing = true;
    this.socket?.close();
  }
}

export interface LedgerResult {
  readonly accepted: number;
  readonly refused: number;
  /** Expected end states: accepted × recipients. */
  readonly expected: number;
  readonly ackedLive: number;
  readonly replayedFromInbox: number;
  readonly acceptedByApns: number;
  readonly failedForGood: number;
  /** Failure reasons → count. */
  readonly reasons: Record<string, number>;
  readonly lost: number;
  readonly duplicates: number;
  /** Accepted ids with a (message, recipient) pair that reached no end state, at most 20. */
  readonly lostIds: number[];
}

export interface Load {
  /** Stops pushing and waits for the requests in flight. */
  stop(): Promise<void>;
}

/** Nearest-rank percentile of `values` (ms); 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function describeRecovery(values: readonly number[]): string {
  return `recovery p50/p95/max ${percentile(values, 50)}/${percentile(values, 95)}/${percentile(values, 100)} ms (n=${values.length})`;
}

export class Ledger {
  readonly services: ServiceProcess[] = [];
  /** Connector slots; undefined while that connector is down. */
  readonly connectors: (ServiceProcess | undefined)[] = [];
  readonly workers: ServiceProcess[] = [];
  readonly clients: LedgerClient[] = [];
  /** iOS device tokens of the offline members. */
  readonly devices: string[] = [];
  /** Accepted message id → when logic answered 200. */
  readonly accepted = new Map<number, number>();
  refused = 0;
  /** How long each refused (503) push took to be answered. */
  readonly refusedMs: number[] = [];
  /** Answers other than 200 and 503, which no scenario expects. */
  readonly unexpected: string[] = [];
  /** Pushes that got no answer at all (logic killed, connection reset): not accepted either. */
  readonly unanswered: string[] = [];
  /** Ids answered 200 twice (the id counter went back, e.g. after Redis lost writes). */
  readonly reusedIds: number[] = [];
  logic!: ServiceProcess;
  redis!: Redis;
  env!: Record<string, string>;

  private constructor(
    readonly server: TestRedis,
    readonly mock: ApnsMock,
  ) {}

  static async start(options: LedgerOptions = {}): Promise<Ledger> {
    const server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'always'] });
    const mock = await startApnsMock({ topics: [TOPIC] });
    const ledger = new Ledger(server, mock);
    try {
      await ledger.boot(options);
    } catch (error) {
      await ledger.stop();
      throw error;
    }
    return ledger;
  }

  private async boot(options: LedgerOptions): Promise<void> {
    this.redis = new Redis(this.server.url);
    this.env = {
      HERALD_REDIS_URL: this.server.url,
      HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD,
      HERALD_CONNECTOR_PORT: '0',
      HERALD_LOGIC_PORT: '0',
      HERALD_OFFLINE_DELAY_MS: '1000',
      HERALD_CONNECTOR_HEARTBEAT_MS: '500',
      HERALD_APNS_HOST: '127.0.0.1',
      HERALD_APNS_PORT: String(this.mock.port),
      HERALD_APNS_CA: this.mock.caFile,
      ...options.env,
    };
    this.logic = await this.track(startService('logic', { env: this.env }));
    await Promise.all([
      ...Array.from({ length: options.connectors ?? 3 }, (_, i) => this.startConnector(i)),
      ...Array.from({ length: options.workers ?? 1 }, () => this.startWorker()),
    ]);
    const key = this.mock.providerKey!;
    await this.admin({ key: '/', apns_list: [{ name: 'default', apns_env: 'dev', apns_topic: TOPIC, token_key: key.key, token_keyId: key.keyId, token_teamId: key.teamId }] });
    await this.admin({ key: LEDGER_NAMESPACE, auth_passwd: PASSWORD });

    for (let i = 0; i < (options.iosDevices ?? 3); i++) await this.addDevice(`ios${i}`);
    const count = options.clients ?? 30;
    for (let i = 0; i < count; i++) this.clients.push(new LedgerClient(this, `a${i}`));
    await Promise.all(
      this.clients.map(async (c, i) => {
        await c.connect(i % this.connectors.length);
        await emitWithAck(c.socket!, 'joinRoom', ROOM);
      }),
    );
  }

  private async track(started: Promise<ServiceProcess>): Promise<ServiceProcess> {
    const service = await started;
    this.services.push(service);
    return service;
  }

  /** `POST /api/admin/namespace/save` with `body`; throws unless 200. */
  async admin(body: unknown): Promise<void> {
    const response = await fetch(`http://127.0.0.1:${this.logic.port}/api/admin/namespace/save`, {
      method: 'POST',
      headers: { authorization: ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status !== 200) throw new Error(`namespace save: ${response.status} ${await response.text()}`);
  }

  /** An iOS member of the room with a device token, offline: every push reaches it through APNs. */
  private async addDevice(uuid: string): Promise<void> {
    const token = randomBytes(32).toString('hex');
    await offlineIosMember(this.connectorPort(0)!, LEDGER_NAMESPACE, uuid, ROOM, token, async (id) => (await this.redis.hget(keys.client(id), 'sid')) === null);
    this.devices.push(token);
  }

  connectorPort(index: number): number | undefined {
    return this.connectors[index]?.port;
  }

  /** The next connector slot after `index` that is up (the balancer's choice on a lost connector). */
  nextLive(index: number): number {
    for (let step = 1; step <= this.connectors.length; step++) {
      const candidate = (index + step) % this.connectors.length;
      if (this.connectors[candidate]) return candidate;
    }
    return index;
  }

  async startConnector(index: number): Promise<ServiceProcess> {
    const connector = await this.track(startService('connector', { env: this.env }));
    this.connectors[index] = connector;
    return connector;
  }

  /** Takes connector `index` out of the balancer, then signals it; resolves with its exit code. */
  async stopConnector(index: number, signal: NodeJS.Signals): Promise<number | null> {
    const connector = this.connectors[index]!;
    this.connectors[index] = undefined;
    return connector.stop(signal);
  }

  /** Stops logic with `signal` and starts a new one (its port changes; pushes follow it). */
  async restartLogic(signal: NodeJS.Signals): Promise<number | null> {
    const old = this.logic;
    const code = await old.stop(signal);
    this.logic = await this.track(startService('logic', { env: this.env }));
    return code;
  }

  /** Takes accepted ids out of the ledger (pushes whose message Redis lost), returning how many were. */
  forget(ids: readonly number[]): number {
    let removed = 0;
    for (const id of ids) if (this.accepted.delete(id)) removed++;
    return removed;
  }

  async startWorker(extra: Record<string, string> = {}): Promise<ServiceProcess> {
    const worker = await this.track(startService('worker', { env: { ...this.env, ...extra } }));
    this.workers.push(worker);
    return worker;
  }

  /** Answers of logic for one push: 200 → accepted (id recorded), 503 → refused. */
  async push(): Promise<void> {
    const started = Date.now();
    try {
      const response = await fetch(`http://127.0.0.1:${this.logic.port}/api/auth/push`, {
        method: 'POST',
        headers: { authorization: basic(LEDGER_NAMESPACE, PASSWORD), 'content-type': 'application/json' },
        body: JSON.stringify({ room: ROOM, pushData: { at: Date.now() }, leaveMessage: true }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      if (response.status === 200) {
        const { id } = JSON.parse(text) as { id: number };
        if (this.accepted.has(id)) this.reusedIds.push(id);
        this.accepted.set(id, Date.now());
      }
      else if (response.status === 503) {
        this.refused++;
        this.refusedMs.push(Date.now() - started);
      }
      else this.unexpected.push(`${response.status} ${text}`);
    } catch (error) {
      this.unanswered.push(String((error as Error).cause ?? error));
    }
  }

  /** Pushes to the room from `concurrency` loops, each one push at a time, every `intervalMs`. */
  load(intervalMs = 20, concurrency = 1): Load {
    let running = true;
    const loops = Array.from({ length: concurrency }, async () => {
      while (running) {
        const started = Date.now();
        await this.push();
        const rest = intervalMs - (Date.now() - started);
        if (rest > 0) await new Promise((r) => setTimeout(r, rest));
      }
    });
    return {
      async stop() {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  /** Resolves once `count` more pushes were accepted. */
  async acceptedMore(count: number, timeoutMs = 30_000): Promise<void> {
    const target = this.accepted.size + count;
    await until(async () => (this.accepted.size >= target ? true : undefined), timeoutMs, 10);
  }

  /**
   * Quiescence: waits until every accepted message had its offline step, then lets every client
   * that misses a message connect again (what any app does sooner or later) so its inbox is
   * replayed, and waits for the APNs deliveries; gives up after `timeoutMs` and reports.
   */
  async settle(timeoutMs = 60_000): Promise<LedgerResult> {
    const deadline = Date.now() + timeoutMs;
    const ids = [...this.accepted.keys()];
    const offlineDone = async () => {
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hget(keys.message(LEDGER_NAMESPACE, id), 'offline');
      const rows = (await pipeline.exec()) ?? [];
      return rows.every(([error, value]) => !error && value) ? true : undefined;
    };
    await until(offlineDone, Math.max(1000, deadline - Date.now()), 100).catch(() => undefined);
    for (;;) {
      const missing = this.clients.filter((c) => ids.some((id) => !c.received.has(id)));
      const result = await this.result();
      if ((missing.length === 0 && result.lost === 0) || Date.now() > deadline) return result;
      await Promise.all(missing.map((c) => c.reconnect()));
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The ledger as it stands. */
  async result(): Promise<LedgerResult> {
    const ids = [...this.accepted.keys()].sort((a, b) => a - b);
    let replayed = 0;
    let duplicates = 0;
    let reached = 0;
    let lost = 0;
    const lostIds = new Set<number>();
    for (const client of this.clients) {
      for (const id of ids) {
        const times = client.received.get(id) ?? 0;
        if (times === 0) {
          lostIds.add(id);
          lost++;
        } else reached++;
        if (client.fromInbox.has(id)) replayed++;
        duplicates += Math.max(0, times - 1);
      }
    }
    const byDevice = new Map<string, number>();
    for (const request of this.mock.requests) {
      if (request.status !== 200) continue;
      const key = `${request.token}|${request.headers['apns-collapse-id']}`;
      byDevice.set(key, (byDevice.get(key) ?? 0) + 1);
    }
    let byApns = 0;
    let failed = 0;
    const reasons: Record<string, number> = {};
    const outcomes = new Map<number, Record<string, string>>();
    if (this.devices.length > 0) {
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hgetall(keys.apnsOutcomes(LEDGER_NAMESPACE, id));
      ((await pipeline.exec()) ?? []).forEach(([, value], i) => outcomes.set(ids[i]!, (value ?? {}) as Record<string, string>));
    }
    for (const id of ids) {
      const failures = Object.values(outcomes.get(id) ?? {}).filter((o) => o !== 'ok');
      for (const reason of failures) reasons[reason] = (reasons[reason] ?? 0) + 1;
      failed += failures.length;
      for (const token of this.devices) {
        const times = byDevice.get(`${token}|${id}`) ?? 0;
        if (times > 0) byApns++;
        duplicates += Math.max(0, times - 1);
      }
      const apnsEnded = this.devices.filter((t) => byDevice.has(`${t}|${id}`)).length + failures.length;
      if (apnsEnded < this.devices.length) {
        lostIds.add(id);
        lost += this.devices.length - apnsEnded;
      }
    }
    const ackedLive = reached - replayed;
    const expected = ids.length * (this.clients.length + this.devices.length);
    return {
      accepted: ids.length,
      refused: this.refused,
      expected,
      ackedLive,
      replayedFromInbox: replayed,
      acceptedByApns: byApns,
      failedForGood: failed,
      reasons,
      lost,
      duplicates,
      lostIds: [...lostIds].slice(0, 20),
    };
  }

  /** Closes clients, stops every process it started (SIGTERM) and returns their exit codes. */
  async stop(): Promise<(number | null)[]> {
    for (const c of this.clients) c.close();
    await this.redis?.quit().catch(() => undefined);
    const codes = await Promise.all(this.services.filter((s) => s.child.exitCode === null && s.child.signalCode === null).map((s) => s.stop()));
    await this.mock.close();
    await this.server.stop();
    return codes;
  }
}

/**
 * For a test file: a function that starts a ledger for the running test; after each test the
 * ledger is stopped and every process still running must exit 0 on SIGTERM.
 */
export function ledgerPerTest(): (options?: LedgerOptions) => Promise<Ledger> {
  let current: Ledger | undefined;
  afterEach(async () => {
    if (!current) return;
    const codes = await current.stop();
    current = undefined;
    expect(codes.every((code) => code === 0)).toBe(true);
  });
  return async (options) => (current = await Ledger.start(options));
}

export function printLedger(scenario: string, result: LedgerResult, recovery: readonly number[], extra = ''): void {
  console.log(
    `[ledger] ${scenario}: accepted ${result.accepted} (refused ${result.refused}), lost ${result.lost}, duplicates ${result.duplicates}; ` +
      `end states: acked live ${result.ackedLive}, from inbox ${result.replayedFromInbox}, APNs ${result.acceptedByApns}, failed ${result.failedForGood}; ` +
      `${describeRecovery(recovery)}${extra ? `; ${extra}` : ''}`,
  );
}
