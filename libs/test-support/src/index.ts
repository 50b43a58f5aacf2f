export * from './redis-server';
export * from './service-process';
export * from './wait';
