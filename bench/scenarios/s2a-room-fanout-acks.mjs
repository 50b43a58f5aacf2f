/*
 * S2a — S2 with acks on: REST push → one room of `clients` clients on ONE connector (one B-sio
 * server), every client acks every push (ackPush {id}). Herald counts each ack into the push's
 * report; B-sio's handler only counts it (a bare handler). Measures deliveries/s at saturation
 * (each delivery brings one ack), then latency and CPU per delivery at half of it.
 * Goal (issue 13): ≥ 0.7 × B-sio's deliveries/s with acks, one connector process.
 */
import { run as runS2 } from './s2-room-fanout.mjs';

export const id = 's2a';
export const title = 'REST push → one room on 1 connector, every client acks, rising rate';
export const systems = ['herald', 'b-sio'];

export function params(quick) {
  return quick
    ? { clients: 200, connectors: 1, generators: 2, drivers: 1, connections: 16, padBytes: 64, acks: 1, start: 10, factor: 2, max: 200, stepMs: 1500, halfMs: 2000, drainTimeoutMs: 2000, p99LimitMs: 500, finalDrainMs: 5000, redisRequests: 20_000 }
    : { clients: 1000, connectors: 1, generators: 2, drivers: 1, connections: 32, padBytes: 64, acks: 1, start: 5, factor: 1.25, max: 2000, stepMs: 5000, halfMs: 20_000, drainTimeoutMs: 3000, p99LimitMs: 500, finalDrainMs: 60_000, redisRequests: 200_000 };
}

export const fdNeeds = (p) => Math.ceil(p.clients / Math.min(p.connectors, p.generators)) + 200;

export const run = runS2;
