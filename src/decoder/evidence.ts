import { LoupeError } from '../errors';
import type { ImageSpan } from '../embeddings';

/** The decoder output that carries evidence: [1, layers, total] attention of the last query, head-averaged. */
export const EVIDENCE_OUTPUT = 'attention_last';

/**
 * Sums, over the answer's tokens and the decoder's layers, the attention that produced each
 * token, on the image's positions. `offer` takes each step's rows; `keep` counts the last
 * offered rows once the token they produced is kept (an end-of-sequence token is not).
 */
export class EvidenceSum {
  private readonly sum: Float64Array;
  private pending: Float32Array | undefined;
  private layers = 0;
  private rows = 0;

  constructor(private readonly span: ImageSpan) {
    this.sum = new Float64Array(span.length);
  }

  /** One step's `attention_last`: [layers, total] flattened, total >= the image's end. */
  offer(rows: Float32Array, layers: number): void {
    const total = rows.length / layers;
    if (!Number.isInteger(total) || total < this.span.start + this.span.length) {
      throw new LoupeError('INTERNAL', `${EVIDENCE_OUTPUT} holds ${rows.length} values for ${layers} layers; the image ends at position ${this.span.start + this.span.length}.`);
    }
    this.pending = rows;
    this.layers = layers;
  }

  keep(): void {
    const rows = this.pending;
    if (!rows) return;
    const total = rows.length / this.layers;
    for (let l = 0; l < this.layers; l++) {
      const base = l * total + this.span.start;
      for (let i = 0; i < this.span.length; i++) this.sum[i]! += rows[base + i]!;
    }
    this.rows += this.layers;
    this.pending = undefined;
  }

  /** Per image token: the mean attention over kept tokens and layers (zeros when nothing was kept). */
  mean(): Float32Array {
    return Float32Array.from(this.sum, (v) => (this.rows > 0 ? v / this.rows : 0));
  }
}
