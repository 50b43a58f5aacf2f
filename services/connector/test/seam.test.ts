/**
 * The protocol seam holds (issue 12): the connector's core emits no event of its own — every
 * client-facing event comes from a protocol module — and the registry serves exactly the
 * protocols a namespace may be saved with.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KNOWN_PROTOCOLS } from '@herald/config';
import { PROTOCOL_NAMES, SERVED_PROTOCOLS } from '@herald/wire';
import { defaultRegistry } from '../src/protocols/registry';

const CORE = join(__dirname, '..', 'src', 'core');

/** Code without comments: the core's comments may name the push protocol's events as examples. */
function code(file: string): string {
  return readFileSync(join(CORE, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

test.each(readdirSync(CORE).filter((f) => f.endsWith('.ts')))('core/%s writes no client event itself', (file) => {
  // `.emit('name'` to a socket, room or operator; inter-server events (`herald:`) are the core's own.
  const emitted = [...code(file).matchAll(/\.emit(?:WithAck)?\(\s*'([^']+)'/g)].map((m) => m[1]);
  expect(emitted.filter((event) => !event!.startsWith('herald:'))).toEqual([]);
});

test('the registry serves exactly SERVED_PROTOCOLS', () => {
  const registry = defaultRegistry();
  expect(registry.names().sort()).toEqual([...SERVED_PROTOCOLS].sort());
  expect(registry.get('push')?.name).toBe('push');
  expect(registry.get('chat')?.name).toBe('chat');
});

test('HERALD_PROTOCOLS knows exactly the protocol names, and a registry limited by it serves only those', () => {
  expect([...KNOWN_PROTOCOLS].sort()).toEqual([...PROTOCOL_NAMES].sort());
  const registry = defaultRegistry(['push', 'chat']);
  expect(registry.names().sort()).toEqual(['chat', 'push']);
  expect(registry.get('roomsync')).toBeUndefined();
});
