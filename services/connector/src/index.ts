export { buildConnector } from './connector';
