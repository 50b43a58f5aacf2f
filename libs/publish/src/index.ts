export * from './push-service';
export * from './connector-bus';
export * from './sharded-emitter';
export * from './adapter-packet';
export * from './channel-ingress';
