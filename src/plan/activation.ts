import type { VisionSpec } from '../bundle';
import { outputSize, type EncoderRun, type ImagePlan } from './types';

/**
 * Bytes of the largest activation of one image of W x H through an encoder, in float32.
 * ConvNeXt: the first stage's MLP expands its channels 4x at 1/patch resolution. ViT: the
 * MLP's hidden layer, or the attention scores (heads x T x T), whichever is larger.
 */
export function largestActivationBytes(width: number, height: number, vision: VisionSpec): number {
  if (vision.firstStageWidth === undefined && vision.hiddenSize !== undefined) {
    const tokens = Math.floor(width / vision.patchSize) * Math.floor(height / vision.patchSize) + 1;
    return Math.max(tokens * (vision.intermediateSize ?? 4 * vision.hiddenSize), (vision.heads ?? 1) * tokens * tokens) * 4;
  }
  const channels = (vision.firstStageWidth ?? 96) * 4;
  return channels * Math.ceil(width / vision.patchSize) * Math.ceil(height / vision.patchSize) * 4;
}

/**
 * The largest single buffer one run of the recipe needs: each pixel feed's images through
 * the encoder as a batch; `pixel_values_low` through the low branch where the bundle has one.
 */
export function runBytes(plan: ImagePlan, run: EncoderRun, vision: VisionSpec): number {
  let bytes = 0;
  for (const feed of run.feeds) {
    if (feed.from !== 'pixels') continue;
    const branch = feed.name === 'pixel_values_low' ? (vision.low ?? vision) : vision;
    const perImage = feed.inputs.map((i) => {
      const size = outputSize(plan.inputs[i]!);
      return largestActivationBytes(size.width, size.height, branch);
    });
    bytes = Math.max(bytes, perImage.reduce((a, b) => a + b, 0));
  }
  return bytes;
}
