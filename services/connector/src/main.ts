import { runService } from '@herald/runtime';
import { buildConnector } from './connector';

void runService('connector', buildConnector);
