/** A configuration value that stops the start. The message names the variable and the rule. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly variable: string, reason: string) {
    super(`${variable}: ${reason}`);
  }
}
