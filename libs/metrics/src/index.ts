import { HeraldMetrics } from './herald-metrics';

export * from './ack-clock';
export * from './fast-histogram';
export * from './herald-metrics';
export * from './metrics-http';
export * from './namespace-labels';

/**
 * The process's metrics: each role configures it once at build time (`metrics.configure`) and its
 * hooks call it directly, so that a hook in a hot path is one line and needs no new constructor
 * argument in the classes it sits in.
 */
export const metrics = new HeraldMetrics();
