import { LoupeError } from '../errors';

/** How the next token is picked. Greedy unless a temperature above 0 is given. */
export interface SamplingOptions {
  temperature?: number;
  topP?: number;
  topK?: number;
  /** Seed for reproducible sampling; a fixed default keeps runs repeatable. */
  seed?: number;
}

/** mulberry32: tiny, fast, and good enough to pick tokens reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The softmax probability (temperature 1) of `id` under `logits`: how sure the model was of a token. */
export function probabilityOf(logits: ArrayLike<number>, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += Math.exp(logits[i]! - max);
  return Math.exp(logits[id]! - max) / total;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

export function checkSampling(options: SamplingOptions): void {
  const { temperature = 0, topP = 1, topK = 0 } = options;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new LoupeError('INVALID_ARGUMENT', `temperature must be a finite number >= 0 (0 = greedy); got ${temperature}.`);
  }
  if (!(topP > 0 && topP <= 1)) throw new LoupeError('INVALID_ARGUMENT', `topP must be in (0, 1]; got ${topP}.`);
  if (!(Number.isInteger(topK) && topK >= 0)) throw new LoupeError('INVALID_ARGUMENT', `topK must be an integer >= 0 (0 = off); got ${topK}.`);
}

/**
 * A token picker bound to one answer: greedy, or temperature + top-k + top-p (nucleus)
 * sampling with its own seeded generator so two runs with the same seed agree.
 */
export function createSampler(options: SamplingOptions = {}): (logits: ArrayLike<number>) => number {
  checkSampling(options);
  const { temperature = 0, topP = 1, topK = 0, seed = 0x10e7 } = options;
  if (temperature === 0) return argmax;
  const random = seededRandom(seed);
  return (logits) => {
    const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]!);
    const kept = topK > 0 ? order.slice(0, topK) : order;
    const max = logits[kept[0]!]!;
    const probs = kept.map((i) => Math.exp((logits[i]! - max) / temperature));
    const total = probs.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    let cut = kept.length;
    for (let i = 0; i < kept.length; i++) {
      cumulative += probs[i]! / total;
      if (cumulative >= topP) {
        cut = i + 1;
        break;
      }
    }
    const nucleusTotal = probs.slice(0, cut).reduce((a, b) => a + b, 0);
    let r = random() * nucleusTotal;
    for (let i = 0; i < cut; i++) {
      r -= probs[i]!;
      if (r <= 0) return kept[i]!;
    }
    return kept[cut - 1]!;
  };
}
