/*
 * B-apns: @parse/node-apn alone, sending to the same APNs mock with the provider options Herald's
 * worker uses (services/worker/src/apns/node-apn-sender.ts: token auth, connectionRetryLimit 0,
 * requestTimeout 5000) and the same shape of work: batches of 100 device tokens, 16 batches in
 * flight (HERALD_APNS_CONCURRENCY's default). What is left between this and Herald is Herald's own
 * work: the offline step, BullMQ jobs, Redis reads and per-device outcome records.
 */
import apn from '@parse/node-apn';
import { deviceToken } from '../lib/tokens.mjs';
import { nowUs } from '../lib/clock.mjs';
import { serve } from '../lib/ipc.mjs';

let provider;

async function send({ port, caFile, providerKey, topic, count, batch = 100, concurrency = 16, payload }) {
  provider ??= new apn.Provider({
    production: false,
    address: '127.0.0.1',
    port,
    ca: [caFile],
    token: { key: providerKey.key, keyId: providerKey.keyId, teamId: providerKey.teamId },
    connectionRetryLimit: 0,
    requestTimeout: 5000,
  });
  const note = new apn.Notification();
  note.topic = topic;
  note.expiry = Math.floor(Date.now() / 1000) + 3600;
  note.priority = 10;
  note.collapseId = '1';
  note.pushType = 'alert';
  note.rawPayload = payload;
  let next = 0;
  let sent = 0;
  const failed = {};
  const startedAt = nowUs();
  const cpuBefore = process.cpuUsage();
  const lane = async () => {
    while (next < count) {
      const first = next;
      next = Math.min(count, next + batch);
      const tokens = [];
      for (let i = first; i < next; i++) tokens.push(deviceToken(i));
      const result = await provider.send(note, tokens);
      sent += result.sent.length;
      for (const f of result.failed) {
        const reason = f.response?.reason ?? (f.error ? String(f.error.message ?? f.error) : `status ${f.status}`);
        failed[reason] = (failed[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const cpu = process.cpuUsage(cpuBefore);
  return { sent, failed, elapsedUs: nowUs() - startedAt, cpuUs: cpu.user + cpu.system };
}

serve({ send }, {}, async () => {
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    provider?.shutdown(() => {
      clearTimeout(timer);
      resolve();
    });
    if (!provider) resolve();
  });
});
