export * from './config-error';
export * from './redis-target';
export * from './variables';
export * from './config-doc';
