export * from './push-service';
