import apn from '@parse/node-apn';
import type { ApnsSettings } from '@herald/store';
import type { ApnsEndpoint, ApnsNotification, ApnsSender, DeviceResult } from './apns-sender';

/** A configuration that cannot make a provider: missing key, certificate or ids. */
export class ApnsConfigError extends Error {
  override readonly name = 'ApnsConfigError';
}

/** How long shutdown may wait for node-apn: its callback never fires after a connection error. */
const SHUTDOWN_WAIT_MS = 2000;

/**
 * The ApnsSender on @parse/node-apn. Token authentication when a `.p8` key is configured, else the
 * certificate pair chosen by `apns_env` (seed 002 worker). node-apn's own retries are off
 * (`connectionRetryLimit: 0`): BullMQ owns retry and backoff, so every attempt is counted and spaced.
 */
export function createNodeApnSender(settings: ApnsSettings, endpoint: ApnsEndpoint): ApnsSender {
  const production = settings.apns_env === 'production';
  const options: apn.ProviderOptions = { production, port: endpoint.port, connectionRetryLimit: 0, requestTimeout: 5000 };
  if (endpoint.host) options.address = endpoint.host;
  if (endpoint.caFile) options.ca = [endpoint.caFile];
  if (settings.token_key) {
    if (!settings.token_keyId || !settings.token_teamId) throw new ApnsConfigError('token_key needs token_keyId and token_teamId');
    options.token = { key: settings.token_key, keyId: settings.token_keyId, teamId: settings.token_teamId };
  } else {
    const cert = production ? settings.apns_production_cert : settings.apns_dev_cert;
    const key = production ? settings.apns_production_key : settings.apns_dev_key;
    if (!cert || !key) throw new ApnsConfigError(`no token_key and no ${production ? 'production' : 'dev'} certificate and key`);
    options.cert = cert;
    options.key = key;
  }
  const provider = new apn.Provider(options);

  return {
    production,
    async send(notification: ApnsNotification, tokens: readonly string[]): Promise<DeviceResult[]> {
      const note = new apn.Notification();
      if (notification.topic) note.topic = notification.topic;
      note.expiry = notification.expiry;
      note.priority = notification.priority;
      note.collapseId = notification.collapseId;
      note.pushType = 'alert';
      note.rawPayload = notification.payload;
      const response = await provider.send(note, [...tokens]);
      const results: DeviceResult[] = response.sent.map((s) => ({ token: s.device, ok: true as const }));
      for (const f of response.failed) {
        const reason = f.response?.reason ?? (f.error ? String((f.error as Error).message ?? f.error) : `status ${f.status ?? 'none'}`);
        const timestamp = f.response?.timestamp !== undefined ? Number(f.response.timestamp) : undefined;
        results.push({ token: f.device, ok: false, status: f.status, reason, timestamp });
      }
      return results;
    },
    close() {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
        timer.unref();
        (provider.shutdown as unknown as (done: () => void) => void)(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
