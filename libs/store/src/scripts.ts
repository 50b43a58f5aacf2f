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

/**
 * Typed access to Herald's Lua scripts. ioredis' `defineCommand` sends EVALSHA and falls back to
 * EVAL after a Redis restart (NOSCRIPT), on single servers and clusters alike.
 */
export class Scripts {
  private readonly client: RedisClient;

  constructor(client: RedisClient) {
    this.client = client;
    for (const source of SOURCES) {
      if (typeof (client as unknown as Record<string, unknown>)[source.command] === 'function') continue;
      client.defineCommand(
        source.command,
        source.numberOfKeys === undefined ? { lua: source.lua } : { numberOfKeys: source.numberOfKeys, lua: source.lua },
      );
    }
  }

  private call(command: string, keys: string[], args: Arg[], variadic: boolean): Promise<unknown> {
    const fn = (this.client as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[command]!;
    return variadic ? fn.call(this.client, keys.length, ...keys, ...args) : fn.call(this.client, ...keys, ...args);
  }

  pushAccept(keys: string[], args: Arg[]): Promise<(string | number)[]> {
    return this.call('pushAccept', keys, args, true) as Promise<(string | number)[]>;
  }

  reportApply(keys: string[], args: Arg[]): Promise<number> {
    return this.call('reportApply', keys, args, true) as Promise<number>;
  }

  /** A connector's report batch of one namespace, packed per message (report-batch.lua). */
  reportBatch(keys: string[], args: Arg[]): Promise<number> {
    return this.call('reportBatch', keys, args, true) as Promise<number>;
  }

  roomJoin(keys: [string, string, string, string, string, string], clientId: string, userid: string, connection: string): Promise<number> {
    return this.call('roomJoin', keys, [clientId, userid, connection], false) as Promise<number>;
  }

  roomLeave(keys: [string, string, string, string, string, string], clientId: string, userid: string): Promise<number> {
    return this.call('roomLeave', keys, [clientId, userid], false) as Promise<number>;
  }

  clientDisconnect(clientKey: string, sid: string, at: number, reason: string): Promise<number> {
    return this.call('clientDisconnect', [clientKey], [sid, at, reason], false) as Promise<number>;
  }

  namespacePresence(keys: [string, string, string], clientId: string, userid: string, state: 'on' | 'off', at: number): Promise<number> {
    return this.call('namespacePresence', keys, [clientId, userid, state, at], false) as Promise<number>;
  }

  clientTokenDrop(clientKey: string, token: string, unregisteredAt: number): Promise<number> {
    return this.call('clientTokenDrop', [clientKey], [token, unregisteredAt], false) as Promise<number>;
  }

  inboxAdd(inboxKey: string, id: number, ttlMs: number, capacity: number): Promise<number> {
    return this.call('inboxAdd', [inboxKey], [id, ttlMs, capacity], false) as Promise<number>;
  }

  roomOffline(keys: [string, string, string, string], clientId: string, userid: string, connection: string): Promise<number> {
    return this.call('roomOffline', keys, [clientId, userid, connection], false) as Promise<number>;
  }

  connectorBeat(registryKey: string, connectorId: string, beatBefore: boolean): Promise<[number, number]> {
    return this.call('connectorRegistry', [registryKey], ['beat', connectorId, beatBefore ? '1' : ''], false) as Promise<[number, number]>;
  }

  connectorClaim(registryKey: string, silentMs: number, leaseMs: number, self: string): Promise<[string, string] | null> {
    return this.call('connectorRegistry', [registryKey], ['claim', silentMs, leaseMs, self], false) as Promise<[string, string] | null>;
  }

  connectorLease(registryKey: string, connectorId: string, lease: string, action: 'renew' | 'release', leaseMs = 0): Promise<string | number> {
    return this.call('connectorRegistry', [registryKey], [action, connectorId, lease, leaseMs], false) as Promise<string | number>;
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
    return this.call('namespaceSave', [namespaceKey], [apnsChanges, maxItems, maxBytes, protocolSettings, resetProtocolSettings ? '1' : '0', ...fields], false) as Promise<number>;
  }
}
