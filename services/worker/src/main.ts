import { runService } from '@herald/runtime';
import { buildWorker } from './worker';

void runService('worker', buildWorker);
