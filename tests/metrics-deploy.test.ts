/**
 * The monitoring files of deploy/ (issue 15) against what Herald really runs and exports:
 * deploy/prometheus.yml is a valid Prometheus configuration whose targets are the ports
 * ecosystem.config.js gives each production process, and every query of deploy/grafana/herald.json
 * is valid PromQL (promtool) over series the roles export.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeraldMetrics, type MetricsRole } from '@herald/metrics';

const ROOT = join(__dirname, '..');

function promtool(...args: string[]): { status: number | null; output: string } {
  const binary = process.env['HERALD_PROMTOOL'];
  if (!binary) throw new Error('HERALD_PROMTOOL is not set: run the tests with `npm test` (scripts/promtool.mjs installs promtool)');
  const result = spawnSync(binary, args, { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The apps of ecosystem.config.js for this environment (it reads process.env when loaded). */
function ecosystem(env: Record<string, string>): { name: string; instances: number; env?: Record<string, string>; increment_var?: string }[] {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    let apps: ReturnType<typeof ecosystem> = [];
    jest.isolateModules(() => {
      apps = require(join(ROOT, 'ecosystem.config.js')).apps;
    });
    return apps;
  } finally {
    for (const key of Object.keys(env)) if (saved[key] === undefined) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

test('deploy/prometheus.yml passes `promtool check config` and scrapes every process of the default production topology on its own port', () => {
  const file = join(ROOT, 'deploy', 'prometheus.yml');
  expect(promtool('check', 'config', file).status).toBe(0);

  const text = readFileSync(file, 'utf8');
  const targets: Record<string, string[]> = {};
  for (const [, job, list] of text.matchAll(/job_name: (herald-\w+)[\s\S]*?targets: \[([^\]]*)\]/g)) {
    targets[job!] = [...list!.matchAll(/'127\.0\.0\.1:(\d+)'/g)].map((m) => m[1]!);
  }
  const apps = ecosystem({ HERALD_PROFILE: 'production' });
  const ports = (app: (typeof apps)[number], variable: string) =>
    Array.from({ length: app.instances }, (_, i) => String(Number(app.env![variable]) + (app.increment_var === variable ? i : 0)));
  expect(targets).toEqual({
    'herald-connector': apps.filter((a) => a.name.startsWith('herald-connector')).flatMap((a) => ports(a, 'HERALD_CONNECTOR_PORT')),
    'herald-logic': ports(apps.find((a) => a.name === 'herald-logic')!, 'HERALD_LOGIC_METRICS_PORT'),
    'herald-worker': ports(apps.find((a) => a.name === 'herald-worker')!, 'HERALD_WORKER_PORT'),
  });
  expect(targets['herald-logic']).toEqual(['10010', '10011']);
});

test('ecosystem.config.js: port 0 stays 0 for every instance (no increment from 0)', () => {
  const apps = ecosystem({ HERALD_PROFILE: 'production', HERALD_WORKER_PORT: '0', HERALD_LOGIC_METRICS_PORT: '0', HERALD_WORKERS: '3' });
  const worker = apps.find((a) => a.name === 'herald-worker')!;
  expect(worker).toMatchObject({ instances: 3, env: { HERALD_WORKER_PORT: '0' } });
  expect(worker.increment_var).toBeUndefined();
  expect(() => ecosystem({ HERALD_PROFILE: 'production', HERALD_WORKER_PORT: 'x' })).toThrow('HERALD_WORKER_PORT: must be a port, got x');
});

test('deploy/grafana/herald.json: every query is valid PromQL over series Herald exports', async () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'herald.json'), 'utf8'));
  expect(dashboard).toMatchObject({ title: 'Herald', uid: expect.any(String), schemaVersion: expect.any(Number) });
  const panels: { id: number; type: string; targets?: { expr: string }[] }[] = dashboard.panels;
  expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  expect(exprs.length).toBeGreaterThan(20);

  // Grafana's variables, as Grafana would fill them in.
  const promql = exprs.map((e) => e.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', '.*'));
  const dir = mkdtempSync(join(tmpdir(), 'herald-dashboard-'));
  try {
    const rules = join(dir, 'rules.yml');
    const lines = ['groups:', '  - name: dashboard', '    rules:'];
    promql.forEach((expr, i) => lines.push(`      - record: herald:dashboard_query_${i}`, `        expr: ${JSON.stringify(expr)}`));
    writeFileSync(rules, `${lines.join('\n')}\n`);
    const checked = promtool('check', 'rules', rules);
    expect({ status: checked.status, output: checked.status === 0 ? '' : checked.output }).toEqual({ status: 0, output: '' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Names the roles export (with a histogram's _bucket / _sum / _count).
  const exported = new Set<string>(['up']);
  for (const role of ['connector', 'logic', 'worker'] as MetricsRole[]) {
    const metrics = new HeraldMetrics();
    metrics.configure({ role });
    for (const [, name, type] of (await metrics.scrape(undefined)).body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(name!);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
    }
  }
  const used = new Set(promql.flatMap((e) => [...e.matchAll(/\b([a-z_]+(?:_[a-z0-9]+)+|up)\s*[{(\[]/g)].map((m) => m[1]!)));
  const functions = new Set(['histogram_quantile', 'label_values']);
  const unknown = [...used].filter((name) => !functions.has(name) && !exported.has(name));
  expect(unknown).toEqual([]);
  expect(used.size).toBeGreaterThan(15);
});
