/**
 * The metrics module on its own: the namespace label cap, the ack clock, `/metrics` protection and
 * the off switch. The series a user checks after real traffic are in tests/metrics.test.ts.
 */
import { AckClock, FastHistogram, HeraldMetrics, NamespaceLabels } from '@herald/metrics';
import { Histogram, Registry, type Metric } from 'prom-client';

/** The value of one sample of the exposition text, or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? '').split(',').filter(Boolean);
    if (wanted.every((w) => present.includes(w)) && present.length === wanted.length) return Number(match[3]);
  }
  return undefined;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('namespace label cap', () => {
  test('the first N namespaces keep their name, later ones are "other", and stay so', () => {
    const labels = new NamespaceLabels(2);
    expect(['/a', '/b', '/c', '/a', '/d', '/b'].map((n) => labels.of(n))).toEqual(['/a', '/b', 'other', '/a', 'other', '/b']);
    expect(new NamespaceLabels(0).of('/a')).toBe('other');
  });

  test('with more namespaces than the cap, the series stay capped and no count is lost', async () => {
    const metrics = new HeraldMetrics();
    metrics.configure({ role: 'connector', namespaceLabels: 3 });
    for (let i = 0; i < 50; i++) {
      const namespace = `/tenant-${i}`;
      metrics.delivered(namespace, 1, Date.now(), 2);
      metrics.acked(namespace, 1);
      metrics.handshake(namespace, 'ok');
    }
    const text = (await metrics.scrape(undefined)).body;
    const series = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
    expect(series('herald_deliveries_total')).toHaveLength(4);
    expect(series('herald_acks_total')).toHaveLength(4);
    expect(series('herald_handshakes_total')).toHaveLength(4);
    for (const n of [0, 1, 2]) expect(sample(text, 'herald_deliveries_total', { namespace: `/tenant-${n}` })).toBe(2);
    expect(sample(text, 'herald_deliveries_total', { namespace: 'other' })).toBe(47 * 2);
    expect(sample(text, 'herald_acks_total', { namespace: 'other' })).toBe(47);
    expect(sample(text, 'herald_handshakes_total', { namespace: 'other', result: 'ok' })).toBe(47);
  });

  test('a refused handshake for a made-up namespace takes no label', async () => {
    const metrics = new HeraldMetrics();
    metrics.configure({ role: 'connector', namespaceLabels: 1 });
    for (let i = 0; i < 5; i++) metrics.handshake(`/junk-${i}`, 'HS_NAMESPACE_NOT_FOUND');
    metrics.handshake('/real', 'ok');
    const text = (await metrics.scrape(undefined)).body;
    expect(sample(text, 'herald_handshakes_total', { namespace: '', result: 'HS_NAMESPACE_NOT_FOUND' })).toBe(5);
    expect(sample(text, 'herald_handshakes_total', { namespace: '/real', result: 'ok' })).toBe(1);
  });
});

describe('ack clock', () => {
  test('times acks of recent deliveries per namespace, forgets the oldest past its size', () => {
    const clock = new AckClock(3);
    clock.delivered('/a', 1, 1000);
    clock.delivered('/b', 1, 2000);
    clock.delivered('/a', 2, 3000);
    expect([clock.sendDate('/a', 1), clock.sendDate('/b', 1), clock.sendDate('/a', 2)]).toEqual([1000, 2000, 3000]);
    clock.delivered('/a', 3, 4000);
    expect(clock.sendDate('/a', 1)).toBeUndefined();
    expect(clock.sendDate('/a', 3)).toBe(4000);
    // The same message delivered again (another push to this connector's sockets) keeps one entry.
    clock.delivered('/a', 3, 4000);
    expect([clock.sendDate('/b', 1), clock.sendDate('/a', 2)]).toEqual([2000, 3000]);
  });

  test('an ack of a delivered message lands in the latency histogram, an unknown one only in the count', async () => {
    const metrics = new HeraldMetrics();
    metrics.configure({ role: 'connector' });
    metrics.delivered('/a', 7, Date.now() - 30, 1);
    metrics.acked('/a', 7);
    metrics.acked('/a', 8);
    const text = (await metrics.scrape(undefined)).body;
    expect(sample(text, 'herald_acks_total', { namespace: '/a' })).toBe(2);
    expect(sample(text, 'herald_ack_latency_seconds_count')).toBe(1);
    expect(sample(text, 'herald_ack_latency_seconds_bucket', { le: '0.01' })).toBe(0);
    expect(sample(text, 'herald_ack_latency_seconds_bucket', { le: '0.05' })).toBe(1);
  });
});

test("the ack path's FastHistogram exposes exactly what prom-client's Histogram does", async () => {
  const buckets = [0.01, 0.1, 1];
  const fast = new FastHistogram('h_seconds', 'help', buckets);
  const reference = new Histogram({ name: 'h_seconds', help: 'help', buckets, registers: [] });
  for (const value of [0, 0.01, 0.05, 0.1, 0.5, 1, 2, 30]) {
    fast.observe(value);
    reference.observe(value);
  }
  const text = async (metric: Metric) => {
    const registry = new Registry();
    registry.registerMetric(metric);
    return registry.metrics();
  };
  expect(await text(fast as unknown as Metric)).toBe(await text(reference));
});

describe('/metrics answer', () => {
  test('with credentials configured: 401 without or with wrong ones, the text with the right ones', async () => {
    const metrics = new HeraldMetrics();
    metrics.configure({ role: 'logic', credentials: { user: 'admin', password: 'secret-password' } });
    const refused = await metrics.scrape(undefined);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect(JSON.parse(refused.body)).toEqual({ code: 'AUTH_ERROR', msg: 'auth error' });
    expect((await metrics.scrape(basic('admin', 'wrong-password'))).status).toBe(401);
    expect((await metrics.scrape(basic('root', 'secret-password'))).status).toBe(401);
    expect((await metrics.scrape('Bearer x')).status).toBe(401);
    const ok = await metrics.scrape(basic('admin', 'secret-password'));
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(ok.body).toContain('# TYPE herald_pushes_accepted_total counter');
    expect(ok.body).toContain('process_resident_memory_bytes');
    expect(ok.body).toContain('nodejs_eventloop_lag_seconds');
  });

  test('off: nothing is counted and /metrics is a 404', async () => {
    const metrics = new HeraldMetrics();
    metrics.configure({ role: 'logic', enabled: false });
    metrics.pushAccepted('/a');
    expect(await metrics.scrape(undefined)).toMatchObject({ status: 404, body: '{"code":"ROUTE_NOT_FOUND","msg":"route not found"}' });
    metrics.configure({ role: 'logic' });
    expect(sample((await metrics.scrape(undefined)).body, 'herald_pushes_accepted_total', { namespace: '/a' })).toBeUndefined();
  });

  test('each role exports its own series', async () => {
    const metrics = new HeraldMetrics();
    metrics.configure({ role: 'worker' });
    const text = (await metrics.scrape(undefined)).body;
    expect(text).toContain('# TYPE herald_apns_sends_total counter');
    expect(text).toContain('# TYPE herald_queue_jobs gauge');
    expect(text).not.toContain('herald_connections');
  });
});
