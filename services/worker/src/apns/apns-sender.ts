import type { ApnsSettings } from '@herald/store';

/** One notification, the same for every device of a batch. */
export interface ApnsNotification {
  readonly topic: string | undefined;
  /** Unix time (s) after which APNs drops it; 0 = deliver once, do not store. */
  readonly expiry: number;
  readonly priority: 10 | 5;
  readonly collapseId: string;
  readonly payload: Record<string, unknown>;
}

/** What APNs said about one device, or why there was no answer. */
export type DeviceResult =
  | { readonly token: string; readonly ok: true }
  | {
      readonly token: string;
      readonly ok: false;
      /** HTTP status; undefined when no answer came (timeout, connection lost, GOAWAY). */
      readonly status: number | undefined;
      readonly reason: string;
      /** Apple's `timestamp` of a 410 (ms). */
      readonly timestamp: number | undefined;
    };

/** A connection to APNs for one APNs configuration (swappable for tests and other drivers). */
export interface ApnsSender {
  readonly production: boolean;
  send(notification: ApnsNotification, tokens: readonly string[]): Promise<DeviceResult[]>;
  close(): Promise<void>;
}

/** Where APNs is (HERALD_APNS_HOST / _PORT / _CA), for every sender. */
export interface ApnsEndpoint {
  readonly host: string | null;
  readonly port: number;
  readonly caFile: string | null;
}

export type ApnsSenderFactory = (settings: ApnsSettings, endpoint: ApnsEndpoint) => ApnsSender;
