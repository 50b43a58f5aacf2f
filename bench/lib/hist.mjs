import hdr from 'hdr-histogram-js';

/*
 * HDR histograms (hdr-histogram-js, pure JS) of latencies in µs: 3 significant digits, growing as
 * needed, so a multi-second stall is recorded as it is instead of being clipped. Generators send
 * them to the orchestrator compressed (the HdrHistogram V2 base64 format) and it adds them up.
 */

export function newHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

export function encode(histogram) {
  return hdr.encodeIntoCompressedBase64(histogram);
}

/** Adds encoded histograms (strings; empty or undefined ones are skipped) into a new histogram. */
export function merge(encoded) {
  const total = newHistogram();
  for (const item of encoded) {
    if (!item) continue;
    const decoded = hdr.decodeFromCompressedBase64(item, 32, false);
    total.add(decoded);
    decoded.destroy?.();
  }
  return total;
}

/** count and percentiles in ms (undefined when empty). */
export function summary(histogram) {
  if (!histogram || histogram.totalCount === 0) return { count: 0 };
  const ms = (us) => us / 1000;
  return {
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
  };
}
