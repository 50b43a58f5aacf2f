export * from './names';
export * from './errors';
export * from './schemas';
export * from './events';
export * from './validator';
export * from './push-request';
export * from './envelope';
export * from './protocols';
