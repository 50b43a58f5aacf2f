export * from './push-service';
export * from './connector-bus';
