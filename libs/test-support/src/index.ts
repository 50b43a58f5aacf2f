export * from './redis-server';
export * from './service-process';
export * from './wait';
export * from './test-ca';
export * from './apns-mock';
export * from './redis-cluster';
