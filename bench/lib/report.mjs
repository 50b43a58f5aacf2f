import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPORT_FILE = join(REPO_ROOT, 'docs', 'benchmarks.md');

function versionOf(command, args, pattern) {
  try {
    const out = execFileSync(command, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    return pattern.exec(out)?.[1] ?? out.trim();
  } catch {
    return 'not found';
  }
}

/** What the report says about the machine; `busy` is the CPU share busy just before the run. */
export function machineInfo(busy) {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    memoryGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    redis: versionOf(process.env.HERALD_REDIS_SERVER || 'redis-server', ['--version'], /v=(\S+)/),
    kernel: `${os.type()} ${os.release()}`,
    loadavg: os.loadavg().map((l) => l.toFixed(2)).join(' '),
    busyBefore: busy,
  };
}

export function machineLine(m) {
  return (
    `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB, Node ${m.node}, Redis ${m.redis}, ${m.kernel}; ` +
    `load average before the run ${m.loadavg}, CPU busy ${(100 * m.busyBefore).toFixed(0)} %`
  );
}

/** Number formatting for tables: integers with thin grouping, small values with 2–3 digits. */
export function fmt(value, digits) {
  if (value === undefined || value === null || (typeof value === 'number' && Number.isNaN(value))) return '—';
  if (typeof value !== 'number') return String(value);
  if (!Number.isFinite(value)) return String(value);
  if (digits !== undefined) return value.toFixed(digits);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function ratio(a, b) {
  return typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : undefined;
}

/** A markdown table; `rows` are arrays of cells (already formatted or numbers). */
export function table(header, rows) {
  const cells = [header, ...rows].map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c === undefined ? '—' : String(c))));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r) => `| ${r.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ')} |`;
  return [line(cells[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n');
}

const HEADER_MARK = '<!-- bench results below: appended by `npm run bench` -->';

/** Appends a dated section to docs/benchmarks.md (creating the file's skeleton when missing). */
export function appendSection(markdown) {
  if (!existsSync(REPORT_FILE)) writeFileSync(REPORT_FILE, `# Benchmarks\n\n${HEADER_MARK}\n`);
  const current = readFileSync(REPORT_FILE, 'utf8');
  appendFileSync(REPORT_FILE, `${current.endsWith('\n') ? '' : '\n'}\n${markdown.trim()}\n`);
}

/** The command that reproduces this run, as typed at the repository root. */
export function commandLine(argv) {
  return `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`;
}

/**
 * The section every scenario appends: title, date, run kind, machine, parameters, then the
 * scenario's own tables and notes.
 */
export function section({ id, title, quick, machine, params, body, argv, startedAt }) {
  const kind = quick
    ? '**Validation run (`--quick`, small sizes, on a busy shared machine): checks that the harness works; these are not results.**'
    : '**Full run.**';
  const paramLines = Object.entries(params).map(([k, v]) => `\`${k}\`=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
  return [
    `## ${startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC — ${id.toUpperCase()}: ${title}${quick ? ' (validation run)' : ''}`,
    '',
    kind,
    '',
    `- Machine: ${machineLine(machine)}`,
    `- Parameters: ${paramLines}`,
    `- Command: \`${commandLine(argv)}\``,
    '',
    body.trim(),
    '',
  ].join('\n');
}

/**
 * The scenario table: one row per metric, one column per system, then Herald ÷ B-sio and the goal.
 * A row is `{label, get(result), unit?, digits?, ratio?: boolean, goal?: (herald, bSio, ratio) => string}`.
 */
export function comparisonTable(results, keys, rows) {
  const h = results.herald;
  const s = results['b-sio'];
  const withRatio = keys.includes('herald') && keys.includes('b-sio');
  const header = ['', ...keys.map((k) => results[k]?.name ?? k), ...(withRatio ? ['Herald ÷ B-sio'] : []), 'goal'];
  const body = rows.map((row) => {
    const value = (r) => (r ? row.get(r) : undefined);
    const r = row.ratio && h && s ? ratio(value(h), value(s)) : undefined;
    const cell = (k) => {
      const v = value(results[k]);
      return v === undefined || v === null ? '—' : `${fmt(v, row.digits)}${row.unit ?? ''}`;
    };
    const ratioCell = withRatio ? [r === undefined ? '' : `${fmt(r, 2)}×`] : [];
    return [row.label, ...keys.map(cell), ...ratioCell, row.goal ? row.goal(value(h), value(s), r) : ''];
  });
  return table(header, body);
}

/** CPU share per process of each system in one phase: rows = process names, columns = systems. */
export function cpuTable(results, keys, pick) {
  const names = [...new Set(keys.flatMap((k) => (pick(results[k])?.rows ?? []).map((r) => r.name)))];
  return table(
    ['process (CPU, 100 % = one core)', ...keys.map((k) => results[k]?.name ?? k)],
    names.map((name) => [
      name,
      ...keys.map((k) => {
        const row = (pick(results[k])?.rows ?? []).find((r) => r.name === name);
        return row ? `${fmt(row.pct)} %` : '—';
      }),
    ]),
  );
}

export const check = (ok) => (ok ? '✔' : '✘');
