/**
 * Latency histogram with fixed buckets: 10 µs wide up to 1 s, 1 ms wide up to 120 s, and one
 * overflow bucket. A run delivers millions of events; keeping every sample would cost tens of MB
 * per client process and make passing them to the driver slow, while 10 µs is finer than any
 * difference this benchmark can show. Percentiles are exact to the bucket.
 */
const FINE_STEP_MS = 0.01;
const FINE_BUCKETS = 100_000;
const FINE_LIMIT_MS = FINE_STEP_MS * FINE_BUCKETS;
const COARSE_STEP_MS = 1;
const COARSE_BUCKETS = 119_000;
export const HISTOGRAM_SIZE = FINE_BUCKETS + COARSE_BUCKETS + 1;

export interface Histogram {
  buckets: Uint32Array;
  count: number;
  sumMs: number;
  maxMs: number;
}

export function createHistogram(): Histogram {
  return { buckets: new Uint32Array(HISTOGRAM_SIZE), count: 0, sumMs: 0, maxMs: 0 };
}

export function record(histogram: Histogram, ms: number): void {
  const value = ms < 0 ? 0 : ms;
  const index =
    value < FINE_LIMIT_MS
      ? Math.floor(value / FINE_STEP_MS)
      : Math.min(HISTOGRAM_SIZE - 1, FINE_BUCKETS + Math.floor((value - FINE_LIMIT_MS) / COARSE_STEP_MS));
  histogram.buckets[index]!++;
  histogram.count++;
  histogram.sumMs += value;
  if (value > histogram.maxMs) histogram.maxMs = value;
}

export function merge(into: Histogram, from: Histogram): void {
  for (let index = 0; index < HISTOGRAM_SIZE; index++) into.buckets[index]! += from.buckets[index]!;
  into.count += from.count;
  into.sumMs += from.sumMs;
  into.maxMs = Math.max(into.maxMs, from.maxMs);
}

/**
 * The value below which p % of the deliveries lie (the bucket's upper edge). `lost` deliveries
 * never arrived: they count as later than any that did, so a percentile that falls among them
 * is Infinity rather than a flattering figure computed from the survivors. NaN when empty.
 */
export function percentile(histogram: Histogram, p: number, lost = 0): number {
  const total = histogram.count + lost;
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  if (rank > histogram.count) return Number.POSITIVE_INFINITY;
  let seen = 0;
  for (let index = 0; index < HISTOGRAM_SIZE; index++) {
    seen += histogram.buckets[index]!;
    if (seen >= rank) {
      const upper =
        index < FINE_BUCKETS
          ? (index + 1) * FINE_STEP_MS
          : FINE_LIMIT_MS + (index - FINE_BUCKETS + 1) * COARSE_STEP_MS;
      return Math.min(upper, histogram.maxMs);
    }
  }
  return histogram.maxMs;
}
