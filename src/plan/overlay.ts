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
    let { x, y, width, height } = input.source;
    if (input.window) {
      // A window of the resized canvas, mapped back through the resize and the placement.
      const sx = input.canvas.width / input.width;
      const sy = input.canvas.height / input.height;
      const left = Math.max(input.window.x * sx - input.placement.x, 0);
      const top = Math.max(input.window.y * sy - input.placement.y, 0);
      const right = Math.min((input.window.x + input.window.width) * sx - input.placement.x, input.source.width);
      const bottom = Math.min((input.window.y + input.window.height) * sy - input.placement.y, input.source.height);
      x = input.source.x + left;
      y = input.source.y + top;
      width = Math.max(right - left, 0);
      height = Math.max(bottom - top, 0);
    }
    const box: OverlayBox = { index, role: input.role, x, y, width, height, outputWidth: out.width, outputHeight: out.height, tokens: input.tokens };
    return input.coord ? { ...box, coord: input.coord } : box;
  });
}
