import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from './redis-connection';

/** Where the `.lua` files are: `libs/store/lua`, beside both `src/` and `dist/`. */
const LUA_DIR = join(__dirname, '..', 'lua');

export interface ScriptSource {
  /** camelCase command name, e.g. `roomJoin` for `room-join-5.lua`. */
  readonly command: string;
  /** Fixed number of keys from the file name, or undefined when the caller passes it. */
  readonly numberOfKeys: number | undefined;
  readonly lua: string;
}

/**
 * Reads every script of the directory. File names follow BullMQ's `<command>-<numKeys>.lua`; a name
 * without the number takes a variable number of keys.
 */
export function readScripts(dir: string = LUA_DIR): ScriptSource[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.lua'))
    .sort()
    .map((file) => {
      const base = file.slice(0, -'.lua'.length);
      const match = /^(.*)-(\d+)$/.exec(base);
      const name = match ? match[1]! : base;
      return {
        command: name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()),
        numberOfKeys: match ? Number(match[2]) : undefined,
        lua: readFileSync(join(dir, file), 'utf8'),
      };
    });
}

const SOURCES = readScripts();

type Arg = string | number;

/** One script, called by its SHA-1; see {@link runScript}. */
export interface LoadedScript {
  readonly lua: string;
  readonly sha: string;
  /** The fixed number of keys of the file name (`room-join-6.lua`), undefined when it varies. */
  readonly numberOfKeys: number | undefined;
}

export function loadedScript(lua: string, numberOfKeys?: number): LoadedScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex'), numberOfKeys };
}

/**
 * EVALSHA, then EVAL when Redis answers NOSCRIPT (a restarted server, a cluster node that never ran
 * it, a `SCRIPT FLUSH`): NOSCRIPT means nothing ran, so the retry cannot apply the script twice. The
 * script's keys decide the cluster node, as for any command.
 *
 * Not ioredis' `defineCommand`: it copies every defined script's two methods onto each pipeline and
 * MULTI, and the request path pipelines automatically, so every flush of a busy logic or connector
 * built an object with some forty own properties (docs/decisions.md, "Scripts are called by their
 * SHA-1").
 */
export async function runScript(client: RedisClient, script: LoadedScript, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
  if (script.numberOfKeys !== undefined && keys.length !== script.numberOfKeys) {
    throw new Error(`script takes ${script.numberOfKeys} keys, called with ${keys.length}`);
  }
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return client.eval(script.lua, keys.length, ...keys, ...args);
  }
}

/** Every script of libs/store/lua by its command name, loaded once per process. */
export const SCRIPTS: ReadonlyMap<string, LoadedScript> = new Map(
  SOURCES.map((source) => [source.command, loadedScript(source.lua, source.numberOfKeys)]),
);

/**
 * A script of fixed key count called with its keys then its arguments in one list, as ioredis'
 * defined commands were: `call(key1, key2, arg1, ...)`.
 */
export function scriptCommand(client: RedisClient, command: string): (...keysThenArgs: Arg[]) => Promise<unknown> {
  const script = SCRIPTS.get(command);
  if (script?.numberOfKeys === undefined) throw new Error(`no script ${command} with a fixed number of keys`);
  const n = script.numberOfKeys;
  return (...keysThenArgs) => runScript(client, script, keysThenArgs.slice(0, n).map(String), keysThenArgs.slice(n));
}

/**
 * Typed access to Herald's Lua scripts (libs/store/lua), each called by {@link runScript}, on single
 * servers and clusters alike.
 */
export class Scripts {
  private readonly client: RedisClient;

  constructor(client: RedisClient) {
    this.client = client;
  }

  private call(command: string, keys: string[], args: Arg[]): Promise<unknown> {
    return runScript(this.client, SCRIPTS.get(command)!, keys, args);
  }

  pushAccept(keys: string[], args: Arg[]): Promise<(string | number)[]> {
    return this.call('pushAccept', keys, args) as Promise<(string | number)[]>;
  }

  reportApply(keys: string[], args: Arg[]): Promise<number> {
    return this.call('reportApply', keys, args) as Promise<number>;
  }

  /** A connector's report batch of one namespace, packed per message (report-batch.lua). */
  reportBatch(keys: string[], args: Arg[]): Promise<number> {
    return this.call('reportBatch', keys, args) as Promise<number>;
  }

  roomJoin(keys: [string, string, string, string, string, string], clientId: string, userid: string, connection: string): Promise<number> {
    return this.call('roomJoin', keys, [clientId, userid, connection]) as Promise<number>;
  }

  roomLeave(keys: [string, string, string, string, string, string], clientId: string, userid: string): Promise<number> {
    return this.call('roomLeave', keys, [clientId, userid]) as Promise<number>;
  }

  clientDisconnect(clientKey: string, sid: string, at: number, reason: string): Promise<number> {
    return this.call('clientDisconnect', [clientKey], [sid, at, reason]) as Promise<number>;
  }

  namespacePresence(keys: [string, string, string], clientId: string, userid: string, state: 'on' | 'off', at: number): Promise<number> {
    return this.call('namespacePresence', keys, [clientId, userid, state, at]) as Promise<number>;
  }

  clientTokenDrop(clientKey: string, token: string, unregisteredAt: number): Promise<number> {
    return this.call('clientTokenDrop', [clientKey], [token, unregisteredAt]) as Promise<number>;
  }

  inboxAdd(inboxKey: string, id: number, ttlMs: number, capacity: number): Promise<number> {
    return this.call('inboxAdd', [inboxKey], [id, ttlMs, capacity]) as Promise<number>;
  }

  roomOffline(keys: [string, string, string, string], clientId: string, userid: string, connection: string): Promise<number> {
    return this.call('roomOffline', keys, [clientId, userid, connection]) as Promise<number>;
  }

  connectorBeat(registryKey: string, connectorId: string, beatBefore: boolean): Promise<[number, number]> {
    return this.call('connectorRegistry', [registryKey], ['beat', connectorId, beatBefore ? '1' : '']) as Promise<[number, number]>;
  }

  connectorClaim(registryKey: string, silentMs: number, leaseMs: number, self: string): Promise<[string, string] | null> {
    return this.call('connectorRegistry', [registryKey], ['claim', silentMs, leaseMs, self]) as Promise<[string, string] | null>;
  }

  connectorLease(registryKey: string, connectorId: string, lease: string, action: 'renew' | 'release', leaseMs = 0): Promise<string | number> {
    return this.call('connectorRegistry', [registryKey], [action, connectorId, lease, leaseMs]) as Promise<string | number>;
  }

  namespaceSave(
    namespaceKey: string,
    apnsChanges: string,
    maxItems: number,
    maxBytes: number,
    protocolSettings: string,
    resetProtocolSettings: boolean,
    fields: readonly string[],
  ): Promise<number> {
    return this.call('namespaceSave', [namespaceKey], [apnsChanges, maxItems, maxBytes, protocolSettings, resetProtocolSettings ? '1' : '0', ...fields]) as Promise<number>;
  }
}
