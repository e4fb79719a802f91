import { tokenBoxes, zoomRegion, type ImagePlan, type Rect, type TokenBox, type ZoomOptions } from '../plan';
import { LoupeError } from '../errors';

/** Where an answer looked, per visual token and in image pixels (`ask(..., { evidence: true })`). */
export interface AnswerEvidence {
  /** Per visual token, in the features' order: its share of the answer's attention on the image (sums to 1). */
  scores: Float32Array;
  /** The image rectangle each token covers (same order; empty for tokens over padding). */
  boxes: TokenBox[];
  /** The region holding most of it: the smallest token window with `mass` of the scores, squared (the zoom region). */
  top: Rect | undefined;
  /** The plan the tokens came from. */
  plan: ImagePlan;
  /** Raw mean attention per token (heads, layers, answer tokens), as PyTorch computes it. */
  attention: Float32Array;
}

/** The answer's raw per-token attention, normalised and mapped to the image. */
export function answerEvidence(attention: Float32Array, plan: ImagePlan, stride: number, zoom: ZoomOptions = {}): AnswerEvidence {
  const boxes = tokenBoxes(plan, stride);
  if (boxes.length !== attention.length) {
    throw new LoupeError('INTERNAL', `The answer's evidence covers ${attention.length} visual tokens but the image plan has ${boxes.length}.`);
  }
  const total = attention.reduce((sum, v) => sum + v, 0);
  const scores = Float32Array.from(attention, (v) => (total > 0 ? v / total : 0));
  const top = zoomRegion(boxes, scores, plan.imageWidth, plan.imageHeight, zoom)?.region;
  return { scores, boxes, top, plan, attention };
}

/** Two images' features as one span: the global image's tokens, then the zoomed region's. */
export function joinFeatures(first: Float32Array, second: Float32Array): Float32Array {
  const joined = new Float32Array(first.length + second.length);
  joined.set(first);
  joined.set(second, first.length);
  return joined;
}
