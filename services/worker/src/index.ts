export { buildWorker } from './worker';
