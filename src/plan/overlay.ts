import { outputToImage } from './token-boxes';
import { outputSize, type ImagePlan, type InputRole } from './types';

/** One planned input drawn over the image: the image-space rectangle it sees. */
export interface OverlayBox {
  index: number;
  role: InputRole;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Output pixels and visual tokens, for a label such as "384x384 · 10 tokens". */
  outputWidth: number;
  outputHeight: number;
  tokens: number;
  /** multicrop: the crop centre fed to the coordinate embedding. */
  coord?: [number, number];
}

/**
 * Where each input of a plan looks in the original image, so a UI can draw crops, tiles
 * and pyramid levels over it. Padding is left out: a box covers image pixels only.
 */
export function planOverlay(plan: ImagePlan): OverlayBox[] {
  return plan.inputs.map((input, index) => {
    const out = outputSize(input);
    // A window of the resized canvas, mapped back through the resize and the placement.
    const { x, y, width, height } = input.window ? outputToImage(input, { x: 0, y: 0, ...out }) : input.source;
    const box: OverlayBox = { index, role: input.role, x, y, width, height, outputWidth: out.width, outputHeight: out.height, tokens: input.tokens };
    return input.coord ? { ...box, coord: input.coord } : box;
  });
}
