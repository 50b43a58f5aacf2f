import { createHash, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { AckClock } from './ack-clock';
import { FastHistogram } from './fast-histogram';
import { NamespaceLabels } from './namespace-labels';

export type MetricsRole = 'connector' | 'logic' | 'worker';

export interface MetricsOptions {
  /** Which series this process exports (docs/metrics.md lists them per role). */
  readonly role: MetricsRole;
  /** HERALD_METRICS: `false` counts nothing and answers `/metrics` with 404. @default true */
  readonly enabled?: boolean;
  /** HERALD_METRICS_NAMESPACE_LABELS: namespaces labelled by name before `other`. @default 100 */
  readonly namespaceLabels?: number;
  /** HERALD_METRICS_AUTH=admin: the Basic credentials `/metrics` asks for. @default none */
  readonly credentials?: { readonly user: string; readonly password: string };
}

/** A BullMQ queue, as far as the depth gauge needs it (no bullmq dependency here). */
export interface QueueLike {
  readonly name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

/** What `/metrics` answers: the exposition text, or a catalogue-style JSON error. */
export interface MetricsAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The job states the queue gauge reports (BullMQ's `getJobCounts` names). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * Per-namespace totals kept as plain numbers and handed to prom-client at scrape time: the hot
 * paths (a delivery per push and connector, an ack per client, a push per request) do one Map
 * lookup and an addition, instead of prom-client's label hashing, which builds a string per call.
 */
class NamespaceTotals {
  private readonly totals = new Map<string, { value: number }>();
  private readonly other = { value: 0 };

  constructor(private readonly labels: () => NamespaceLabels) {}

  add(namespace: string, amount: number): void {
    const slot = this.totals.get(namespace) ?? this.slot(namespace);
    slot.value += amount;
  }

  /** A namespace past the cap shares the `other` slot and is not remembered (a flood stays small). */
  private slot(namespace: string): { value: number } {
    const label = this.labels().of(namespace);
    if (label !== namespace) return this.other;
    const slot = { value: 0 };
    this.totals.set(namespace, slot);
    return slot;
  }

  /** Copies the totals into a prom-client counter (called from its `collect`). */
  copyTo(counter: Counter<'namespace'>): void {
    counter.reset();
    for (const [namespace, slot] of this.totals) counter.inc({ namespace }, slot.value);
    if (this.other.value > 0) counter.inc({ namespace: 'other' }, this.other.value);
  }
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Herald's Prometheus metrics: the series of every role and the one-line hooks the services call.
 * A process uses the shared `metrics` instance (index.ts) and calls `configure` once at build time;
 * hooks called before that count too, they are just not exported. Hooks are cheap by design: see
 * NamespaceTotals, and the connector counts sockets once per push (the broadcast knows how many).
 */
export class HeraldMetrics {
  registry = new Registry();
  private on = true;
  private labels = new NamespaceLabels(100);
  private credentials: { user: Buffer; password: Buffer } | undefined;
  private readonly clock = new AckClock();
  private queues: readonly QueueLike[] = [];
  private namespacesOf: () => Iterable<WatchedNamespace> = () => [];
  private readonly connectionLabels = new Map<string, { namespace: string; protocol: string; platform: string; transport: string }>();

  private readonly accepted = new NamespaceTotals(() => this.labels);
  private readonly deliveredTotals = new NamespaceTotals(() => this.labels);
  private readonly ackedTotals = new NamespaceTotals(() => this.labels);

  private readonly series = {
    pushesAccepted: new Counter({
      name: 'herald_pushes_accepted_total',
      help: 'Pushes stored and published (REST pushes on logic, client pushes on connectors).',
      labelNames: ['namespace'] as const,
      registers: [],
      collect: (): void | Promise<void> => this.accepted.copyTo(this.series.pushesAccepted),
    }),
    pushesRefused: new Counter({
      name: 'herald_pushes_refused_total',
      help: 'REST pushes refused, by catalogue code (namespace empty when the caller did not authenticate).',
      labelNames: ['namespace', 'code'] as const,
      registers: [],
    }),
    connections: new Gauge({
      name: 'herald_connections',
      help: 'Sockets connected to this connector.',
      labelNames: ['namespace', 'protocol', 'platform', 'transport'] as const,
      registers: [],
      collect: (): void => this.collectConnections(),
    }),
    handshakes: new Counter({
      name: 'herald_handshakes_total',
      help: 'Socket handshakes by result: ok, or the catalogue code of the refusal (namespace empty for HS_NAMESPACE_NOT_FOUND and HS_UNAVAILABLE).',
      labelNames: ['namespace', 'result'] as const,
      registers: [],
    }),
    deliveries: new Counter({
      name: 'herald_deliveries_total',
      help: 'Messages written to sockets by this connector (one per socket).',
      labelNames: ['namespace'] as const,
      registers: [],
      collect: (): void | Promise<void> => this.deliveredTotals.copyTo(this.series.deliveries),
    }),
    acks: new Counter({
      name: 'herald_acks_total',
      help: 'Acks received from clients (live ackPush and inbox replay acks), before de-duplication by the report.',
      labelNames: ['namespace'] as const,
      registers: [],
      collect: (): void | Promise<void> => this.ackedTotals.copyTo(this.series.acks),
    }),
    ackLatency: new FastHistogram(
      'herald_ack_latency_seconds',
      "Time from a push being accepted (its sendDate) to a client's ack, for messages this connector delivered live.",
      LATENCY_BUCKETS,
    ),
    reportLag: new Histogram({
      name: 'herald_report_apply_lag_seconds',
      help: 'Time from the oldest report update of a batch (ack, delivery count) being queued to the batch written to Redis.',
      buckets: LATENCY_BUCKETS,
      registers: [],
    }),
    reportUpdates: new Counter({
      name: 'herald_report_updates_total',
      help: 'Report updates (acks, delivery counts) written to Redis by the report batcher.',
      registers: [],
    }),
    inboxSize: new Histogram({
      name: 'herald_inbox_size_messages',
      help: "Messages waiting in a client's inbox when it connects (replayed before ok).",
      buckets: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers: [],
    }),
    offlineSteps: new Counter({
      name: 'herald_offline_steps_total',
      help: 'Offline steps run, by outcome (done, expired: the message was gone, failed: the job threw).',
      labelNames: ['namespace', 'outcome'] as const,
      registers: [],
    }),
    inboxStored: new Counter({
      name: 'herald_inbox_stored_total',
      help: 'Messages put into client inboxes by offline steps.',
      labelNames: ['namespace'] as const,
      registers: [],
    }),
    apnsSends: new Counter({
      name: 'herald_apns_sends_total',
      help: "APNs deliveries by outcome (ok, failed: final, retry: retried later) and Apple's reason (NoAnswer without an answer).",
      labelNames: ['namespace', 'outcome', 'reason'] as const,
      registers: [],
    }),
    webhooks: new Counter({
      name: 'herald_webhook_deliveries_total',
      help: 'Webhook attempts by kind and outcome (delivered, skipped, retry, failed: given up).',
      labelNames: ['namespace', 'kind', 'outcome'] as const,
      registers: [],
    }),
    deadLetters: new Counter({
      name: 'herald_webhook_dead_letters_total',
      help: 'Webhooks given up and recorded as dead letters.',
      labelNames: ['namespace', 'kind'] as const,
      registers: [],
    }),
    queueJobs: new Gauge({
      name: 'herald_queue_jobs',
      help: 'Jobs per BullMQ queue and state (waiting, active, delayed, failed), read from Redis at scrape time.',
      labelNames: ['queue', 'state'] as const,
      registers: [],
      collect: (): void | Promise<void> => this.collectQueues(),
    }),
    sessionsNotifications: new Counter({
      name: 'herald_sessions_notifications_total',
      help: 'Messages read by this connector on the notifications channels of sessions namespaces, by outcome: accepted, or why one was ignored (json_invalid, not_object, users_invalid, data_missing, payload_missing).',
      labelNames: ['outcome'] as const,
      registers: [],
    }),
    sessionsRebinds: new Counter({
      name: 'herald_sessions_rebinds_total',
      help: 'Keyspace notifications (set, del, expired, …) on a session key that sockets of this connector use, each followed by a lookup and a re-binding.',
      labelNames: ['namespace', 'event'] as const,
      registers: [],
    }),
  };

  /** The series each role exports. */
  private static readonly ROLES: Record<MetricsRole, readonly (keyof HeraldMetrics['series'])[]> = {
    connector: ['connections', 'handshakes', 'deliveries', 'acks', 'ackLatency', 'reportLag', 'reportUpdates', 'inboxSize', 'pushesAccepted', 'sessionsNotifications', 'sessionsRebinds'],
    logic: ['pushesAccepted', 'pushesRefused'],
    worker: ['offlineSteps', 'inboxStored', 'apnsSends', 'webhooks', 'deadLetters', 'queueJobs'],
  };

  /** Sets this process up for `role`: a fresh registry with its series and the default ones. */
  configure(options: MetricsOptions): void {
    this.on = options.enabled ?? true;
    this.labels = new NamespaceLabels(options.namespaceLabels ?? 100);
    this.credentials = options.credentials && { user: digest(options.credentials.user), password: digest(options.credentials.password) };
    this.registry = new Registry();
    if (!this.on) return;
    for (const name of HeraldMetrics.ROLES[options.role]) this.registry.registerMetric(this.series[name] as unknown as Metric);
    // Event-loop lag, heap, RSS, GC, handles (prom-client's default metrics), less the three gauges
    // named `nodejs_active_*_total`, which `promtool check metrics` rejects (a gauge must not end in
    // `_total`); `nodejs_active_handles` and friends give the same figures by type.
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    for (const { name } of defaults.getMetricsAsArray()) {
      const metric = defaults.getSingleMetric(name);
      if (metric && !(metric instanceof Gauge && name.endsWith('_total'))) this.registry.registerMetric(metric);
    }
  }

  /** The queues whose depth `herald_queue_jobs` reads at each scrape (worker). */
  watchQueues(queues: readonly QueueLike[]): void {
    this.queues = queues;
  }

  // ------------------------------------------------------------------ hooks: pushes (logic, connector)

  /** `count` pushes of `namespace` were accepted (a batch counts each of its pushes). */
  pushAccepted(namespace: string, count = 1): void {
    if (this.on) this.accepted.add(namespace, count);
  }

  pushRefused(namespace: string | undefined, code: string): void {
    if (this.on) this.series.pushesRefused.inc({ namespace: namespace === undefined ? '' : this.labels.of(namespace), code });
  }

  // ------------------------------------------------------------------ hooks: connector

  /** A handshake ended: `ok` or the refusal's catalogue code. */
  handshake(namespace: string, result: string): void {
    if (!this.on) return;
    // Only a namespace known to exist takes a label: anyone can make up names. HS_UNAVAILABLE
    // (Redis away, an unexpected error) may come before the namespace was looked up.
    const label = result === 'HS_NAMESPACE_NOT_FOUND' || result === 'HS_UNAVAILABLE' ? '' : this.labels.of(namespace);
    this.series.handshakes.inc({ namespace: label, result });
  }

  /**
   * The connector's namespaces, whose sockets `herald_connections` counts at scrape time: nothing
   * per connect or disconnect, and no listener or closure per socket (memory per connection is a
   * benchmark goal). A scrape walks every socket once.
   */
  watchConnections(namespaces: () => Iterable<WatchedNamespace>): void {
    this.namespacesOf = namespaces;
  }

  /** The connector wrote message `id` to `count` sockets (once per push, not per socket). */
  delivered(namespace: string, id: number, sendDate: number, count: number): void {
    if (!this.on) return;
    this.deliveredTotals.add(namespace, count);
    this.clock.delivered(namespace, id, sendDate);
  }

  acked(namespace: string, id: number): void {
    if (!this.on) return;
    this.ackedTotals.add(namespace, 1);
    const sendDate = this.clock.sendDate(namespace, id);
    // sendDate comes from logic's clock: clamp a skew between hosts at 0.
    if (sendDate !== undefined) this.series.ackLatency.observe(Math.max(0, Date.now() - sendDate) / 1000);
  }

  inboxReplayed(size: number): void {
    if (this.on) this.series.inboxSize.observe(size);
  }

  /** The report batcher wrote `count` updates of a batch whose first update was queued at `since` (`performance.now()`). */
  reportApplied(count: number, since: number): void {
    if (!this.on) return;
    this.series.reportUpdates.inc(count);
    this.series.reportLag.observe((performance.now() - since) / 1000);
  }

  // ------------------------------------------------------------------ hooks: worker

  offlineStep(namespace: string, outcome: 'done' | 'expired' | 'failed', inboxed = 0): void {
    if (!this.on) return;
    const label = this.labels.of(namespace);
    this.series.offlineSteps.inc({ namespace: label, outcome });
    if (inboxed > 0) this.series.inboxStored.inc({ namespace: label }, inboxed);
  }

  /** One APNs device result. `reason` is Apple's word (or NoAnswer) and is not checked here. */
  apnsSent(namespace: string, outcome: 'ok' | 'failed' | 'retry', reason = ''): void {
    if (this.on) this.series.apnsSends.inc({ namespace: this.labels.of(namespace), outcome, reason });
  }

  webhook(namespace: string, kind: string, outcome: 'delivered' | 'skipped' | 'retry' | 'failed'): void {
    if (this.on) this.series.webhooks.inc({ namespace: this.labels.of(namespace), kind, outcome });
  }

  deadLetter(namespace: string, kind: string): void {
    if (this.on) this.series.deadLetters.inc({ namespace: this.labels.of(namespace), kind });
  }

  /** A notification read on a sessions channel: `accepted`, or why it was ignored. */
  sessionsNotification(outcome: string): void {
    if (this.on) this.series.sessionsNotifications.inc({ outcome });
  }

  /** A keyspace notification re-binds the sockets of a session. */
  sessionsRebind(namespace: string, event: string): void {
    if (this.on) this.series.sessionsRebinds.inc({ namespace: this.labels.of(namespace), event });
  }

  // ------------------------------------------------------------------ the endpoint

  /**
   * The answer to `GET /metrics` with this `Authorization` header: 404 when metrics are off, 401
   * without the right Basic credentials when they are required, else the exposition text.
   */
  async scrape(authorization: string | undefined): Promise<MetricsAnswer> {
    const json = { 'content-type': 'application/json; charset=utf-8' };
    if (!this.on) return { status: 404, headers: json, body: '{"code":"ROUTE_NOT_FOUND","msg":"route not found"}' };
    if (this.credentials && !this.authorized(authorization)) {
      return {
        status: 401,
        headers: { ...json, 'www-authenticate': 'Basic realm="herald-metrics", charset="UTF-8"' },
        body: '{"code":"AUTH_ERROR","msg":"auth error"}',
      };
    }
    return { status: 200, headers: { 'content-type': this.registry.contentType }, body: await this.registry.metrics() };
  }

  private authorized(header: string | undefined): boolean {
    const match = /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header ?? '');
    if (!match || !this.credentials) return false;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    // Both compared, in constant time, whatever the first one gave.
    const user = timingSafeEqual(digest(decoded.slice(0, colon)), this.credentials.user);
    const password = timingSafeEqual(digest(decoded.slice(colon + 1)), this.credentials.password);
    return user && password;
  }

  private collectConnections(): void {
    const counts = new Map<string, number>();
    for (const nsp of this.namespacesOf()) {
      if (nsp.sockets.size === 0) continue;
      const namespace = this.labels.of(nsp.name);
      for (const socket of nsp.sockets.values()) {
        const identity = socket.data.identity;
        if (!identity) continue;
        const transport = socket.conn.transport.name;
        const key = `${namespace}\u0000${identity.platform}\u0000${transport}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        if (!this.connectionLabels.has(key)) this.connectionLabels.set(key, { namespace, protocol: 'push', platform: identity.platform, transport });
      }
    }
    // A combination seen once stays, at 0 when its sockets are gone: "went to zero" is what an
    // operator looks for. The namespace cap bounds them.
    for (const [key, labels] of this.connectionLabels) this.series.connections.set(labels, counts.get(key) ?? 0);
  }

  private async collectQueues(): Promise<void> {
    const gauge = this.series.queueJobs;
    gauge.reset();
    await Promise.all(
      this.queues.map(async (queue) => {
        // A Redis outage must not fail the whole scrape: the queue's series are left out instead.
        const counts = await queue.getJobCounts(...QUEUE_STATES).catch(() => undefined);
        if (counts) for (const state of QUEUE_STATES) gauge.set({ queue: queue.name, state }, counts[state] ?? 0);
      }),
    );
  }
}

/** A socket.io namespace as `herald_connections` reads it (no socket.io dependency here). */
export interface WatchedNamespace {
  readonly name: string;
  readonly sockets: ReadonlyMap<string, {
    readonly data: { readonly identity?: { readonly platform: string } };
    readonly conn: { readonly transport: { readonly name: string } };
  }>;
}

/** The configuration fields metrics read (every role's config has them; see libs/config). */
export interface MetricsConfig {
  readonly metrics: 'on' | 'off';
  readonly metricsAuth: 'none' | 'admin';
  readonly metricsNamespaceLabels: number;
  readonly adminName: string;
  readonly adminPassword?: string | undefined;
}

/** `configure`'s options from a role's configuration (HERALD_METRICS*, the admin credentials). */
export function metricsOptions(role: MetricsRole, config: MetricsConfig): MetricsOptions {
  return {
    role,
    enabled: config.metrics === 'on',
    namespaceLabels: config.metricsNamespaceLabels,
    ...(config.metricsAuth === 'admin' && config.adminPassword !== undefined
      ? { credentials: { user: config.adminName, password: config.adminPassword } }
      : {}),
  };
}
