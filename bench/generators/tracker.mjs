import { nowUs } from '../lib/clock.mjs';
import { encode, newHistogram } from '../lib/hist.mjs';

/*
 * What one generator's clients received, checked message by message. Every push carries
 * pushData {n, t}: n numbers the push (0, 1, 2, … across a whole scenario run) and t is its
 * intended send time (µs, monotonic clock). Latency is recorded from t, not from when the driver
 * got round to sending it, so a stalled system cannot hide its stall (coordinated omission).
 *
 * Modes: 'room' — every client expects every n; 'users' — client c of C expects the n with
 * n % C === c (each client is its own user room). A bitset per client finds duplicates on arrival
 * and gaps at the end.
 */
export class Tracker {
  constructor({ mode, clientsTotal, firstIndex, count, sampleAckEvery = 0 }) {
    this.mode = mode;
    this.clientsTotal = clientsTotal;
    this.firstIndex = firstIndex;
    this.count = count;
    this.sampleAckEvery = sampleAckEvery;
    this.bits = Array.from({ length: count }, () => new Uint8Array(16));
    this.histogram = newHistogram();
    this.unique = 0;
    this.duplicates = 0;
    this.unexpected = 0;
    this.lastAt = 0;
    this.ackSamples = [];
    this.acksSent = 0;
  }

  /** Index of push n in client `local`'s bitset, or -1 when that client should not get it. */
  slot(local, n) {
    if (this.mode === 'room') return n;
    const c = this.firstIndex + local;
    return n % this.clientsTotal === c ? (n - c) / this.clientsTotal : -1;
  }

  /** Records a received push message ({id, pushData: {n, t}}); true when it is new. */
  onPush(local, message) {
    const now = nowUs();
    this.lastAt = now;
    const n = message?.pushData?.n;
    const t = message?.pushData?.t;
    if (typeof n !== 'number' || typeof t !== 'number') {
      this.unexpected++;
      return false;
    }
    this.histogram.recordValue(Math.max(1, now - t));
    const index = this.slot(local, n);
    if (index < 0) {
      this.unexpected++;
      return false;
    }
    let bits = this.bits[local];
    const byte = index >> 3;
    if (byte >= bits.length) {
      const grown = new Uint8Array(Math.max(bits.length * 2, byte + 1));
      grown.set(bits);
      this.bits[local] = bits = grown;
    }
    const mask = 1 << (index & 7);
    if (bits[byte] & mask) {
      this.duplicates++;
      return false;
    }
    bits[byte] |= mask;
    this.unique++;
    return true;
  }

  /** Notes an ack sent for message `id` (every `sampleAckEvery`-th id keeps its send time). */
  onAck(id) {
    this.acksSent++;
    if (this.sampleAckEvery && id % this.sampleAckEvery === 0) this.ackSamples.push([id, nowUs()]);
  }

  counts() {
    return { unique: this.unique, duplicates: this.duplicates, unexpected: this.unexpected, lastAt: this.lastAt, acksSent: this.acksSent };
  }

  /** Counts plus the latency histogram since the last snapshot (then a new histogram starts). */
  snapshot() {
    const histogram = encode(this.histogram);
    this.histogram = newHistogram();
    return { ...this.counts(), histogram };
  }

  /**
   * Gaps: pushes 0 … total-1 that were accepted (not in `failed`) and that a client should have
   * got but did not. A few examples are returned to start a diagnosis.
   */
  finish({ total, failed = [] }) {
    const rejected = new Set(failed);
    let missing = 0;
    let expected = 0;
    const examples = [];
    // Room mode: pushes that no client of this generator got (a whole push lost, not one copy).
    const noneGot = [];
    const has = (local, index) => {
      const bits = this.bits[local];
      return (index >> 3) < bits.length && (bits[index >> 3] & (1 << (index & 7))) !== 0;
    };
    for (let local = 0; local < this.count; local++) {
      const c = this.firstIndex + local;
      const start = this.mode === 'room' ? 0 : c;
      const step = this.mode === 'room' ? 1 : this.clientsTotal;
      for (let n = start; n < total; n += step) {
        if (rejected.has(n)) continue;
        expected++;
        if (!has(local, this.slot(local, n))) {
          missing++;
          if (examples.length < 5) examples.push({ client: c, n });
        }
      }
    }
    if (this.mode === 'room' && this.count > 0) {
      for (let n = 0; n < total; n++) {
        if (rejected.has(n)) continue;
        let got = false;
        for (let local = 0; local < this.count && !got; local++) got = has(local, n);
        if (!got) noneGot.push(n);
      }
    }
    return { expected, missing, examples, noneGot, ...this.counts(), ackSamples: this.ackSamples };
  }
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` at once; collects failures. */
export async function lanes(count, concurrency, work) {
  let next = 0;
  let done = 0;
  const failures = {};
  const lane = async () => {
    while (next < count) {
      const i = next++;
      try {
        await work(i);
        done++;
      } catch (error) {
        const key = String(error?.message ?? error).slice(0, 120);
        failures[key] = (failures[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  return { done, failed: count - done, failures };
}
