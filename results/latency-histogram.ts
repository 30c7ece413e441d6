import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';

/** One hour in microseconds: the longest latency kept; longer ones are recorded as one hour. */
export const HIGHEST_TRACKABLE_US = 3_600_000_000;

/**
 * A latency distribution in microseconds with a fixed relative precision of 0.1% (HdrHistogram,
 * 3 significant digits), encodable to a compact string and mergeable across runs.
 *
 * The pure-JS histogram is used: recording is an index computation and an array increment
 * (~0.1 µs here), so WebAssembly would save nothing worth its asynchronous start-up.
 */
export class LatencyHistogram {
  private constructor(private readonly histogram: Histogram) {}

  /** An empty histogram, 1 µs to one hour. */
  static create(): LatencyHistogram {
    return new LatencyHistogram(
      build({
        lowestDiscernibleValue: 1,
        highestTrackableValue: HIGHEST_TRACKABLE_US,
        numberOfSignificantValueDigits: 3,
        // A fixed range keeps every histogram the same shape, so any two can be merged.
        autoResize: false,
      }),
    );
  }

  /** Reads a histogram written by `encode()`; throws when the text is not one. */
  static decode(text: string): LatencyHistogram {
    const histogram = decodeFromCompressedBase64(text, 32, false);
    if (!Number.isFinite(histogram.totalCount)) throw new Error('the histogram has no valid counts');
    const target = LatencyHistogram.create();
    target.histogram.add(histogram);
    return target;
  }

  /** Records one latency. Negative values (clock noise) count as 0, values past one hour as one hour. */
  recordUs(latencyUs: number): void {
    this.histogram.recordValue(Math.round(Math.min(Math.max(latencyUs, 0), HIGHEST_TRACKABLE_US)));
  }

  /** Number of recorded values. */
  get count(): number {
    return this.histogram.totalCount;
  }

  /**
   * The latency that `percentile`% of recorded values are at or below, in milliseconds
   * (0 for an empty histogram). `percentile` is 0–100.
   */
  percentileMs(percentile: number): number {
    if (this.histogram.totalCount === 0) return 0;
    return this.histogram.getValueAtPercentile(percentile) / 1_000;
  }

  /** Mean latency in milliseconds (0 for an empty histogram). */
  get meanMs(): number {
    return this.histogram.totalCount === 0 ? 0 : this.histogram.mean / 1_000;
  }

  /**
   * Largest latency in milliseconds (0 for an empty histogram), at the histogram's precision
   * like the percentiles, so it reads the same after encode and decode.
   */
  get maxMs(): number {
    return this.percentileMs(100);
  }

  /** Smallest latency in milliseconds (0 for an empty histogram). */
  get minMs(): number {
    if (this.histogram.totalCount === 0) return 0;
    // With only zeros recorded there is no non-zero minimum; the maximum (0) is the answer.
    return Math.min(this.histogram.minNonZeroValue, this.histogram.maxValue) / 1_000;
  }

  /** Adds every value of `other` to this histogram. */
  merge(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  /** Forgets every recorded value. */
  reset(): void {
    this.histogram.reset();
  }

  /** The histogram as compressed base64 (HdrHistogram's V2 encoding), as kept in result files. */
  encode(): string {
    return encodeIntoCompressedBase64(this.histogram);
  }
}
