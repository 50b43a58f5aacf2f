import { fork } from 'node:child_process';

/*
 * Parent ⇄ child request/response over Node's IPC channel. A child serves named commands; the
 * parent calls them and awaits the answer. A child whose parent goes away exits, so a crashed or
 * interrupted orchestrator leaves no generator behind.
 */

/**
 * Child side: answers `{rid, cmd, args}` with `{rid, ok, result | error}`, then announces itself
 * with `{type: 'ready', ...info}`.
 */
export function serve(handlers, info = {}, onClose = async () => undefined) {
  process.on('message', async (message) => {
    if (!message || typeof message.cmd !== 'string') return;
    const { rid, cmd, args } = message;
    try {
      const handler = handlers[cmd];
      if (!handler) throw new Error(`unknown command ${cmd}`);
      const result = await handler(args ?? {});
      process.send({ rid, ok: true, result });
    } catch (error) {
      process.send({ rid, ok: false, error: error instanceof Error ? error.stack : String(error) });
    }
  });
  // The parent disconnects to stop a child (or died): close what is open, then leave.
  process.on('disconnect', () => {
    const timer = setTimeout(() => process.exit(0), 3000);
    Promise.resolve()
      .then(onClose)
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(timer);
        process.exit(0);
      });
  });
  process.send({ ...info, type: 'ready' });
}

const live = new Set();

/** Every child started through `forkChild` that has not exited yet. */
export function liveChildren() {
  return [...live];
}

/** A forked Node process speaking the `serve` protocol. */
export class Child {
  constructor(name, proc) {
    this.name = name;
    this.proc = proc;
    this.pid = proc.pid;
    this.nextId = 1;
    this.waiting = new Map();
    this.stderr = '';
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    proc.on('message', (message) => {
      if (message?.rid === undefined) return;
      const waiter = this.waiting.get(message.rid);
      if (!waiter) return;
      this.waiting.delete(message.rid);
      clearTimeout(waiter.timer);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${this.name}: ${message.error}`));
    });
    proc.stderr?.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    void this.exited.then(({ code, signal }) => {
      live.delete(this);
      for (const waiter of this.waiting.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`${this.name} exited (${code ?? signal}) ${this.stderr.trim()}`));
      }
      this.waiting.clear();
    });
  }

  call(cmd, args = {}, timeoutMs = 600_000) {
    const rid = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(rid);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(rid, { resolve, reject, timer });
      this.proc.send({ rid, cmd, args });
    });
  }

  /** Disconnects IPC (the child exits by itself); SIGKILL if it has not after `graceMs`. */
  async stop(graceMs = 5000) {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    if (this.proc.connected) this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

/**
 * Forks `script` and resolves once it sent `{type:'ready', ...}`; the ready message's other fields
 * become `child.info` (a baseline server's port, for instance).
 */
export function forkChild(name, script, { args = [], env = {}, execArgv = [], readyTimeoutMs = 30_000 } = {}) {
  const proc = fork(script, args, {
    env: { ...process.env, ...env },
    execArgv,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const child = new Child(name, proc);
  live.add(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} not ready within ${readyTimeoutMs} ms ${child.stderr}`));
    }, readyTimeoutMs);
    const onMessage = (message) => {
      if (message?.type !== 'ready') return;
      proc.off('message', onMessage);
      clearTimeout(timer);
      child.info = message;
      resolve(child);
    };
    proc.on('message', onMessage);
    void child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready: ${child.stderr.trim()}`));
    });
  });
}
