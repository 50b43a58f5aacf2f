export { buildApp, BODY_LIMIT } from './app';
