export * from './keys';
export * from './redis-connection';
export * from './scripts';
export * from './password';
export * from './namespace-store';
export * from './message-store';
export * from './room-store';
