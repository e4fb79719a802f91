import type { ImagePlan, PlannedInput, Rect } from './types';
import { outputSize } from './types';

/**
 * Where a rectangle of an input's tensor (output pixels, within its window if it has one)
 * lies in the image: back through the window, the resize and the placement, clipped to the
 * input's source pixels (padding left out).
 */
export function outputToImage(input: PlannedInput, r: Rect): Rect {
  const sx = input.canvas.width / input.width;
  const sy = input.canvas.height / input.height;
  const ox = input.window?.x ?? 0;
  const oy = input.window?.y ?? 0;
  const left = Math.min(Math.max((r.x + ox) * sx - input.placement.x, 0), input.source.width);
  const top = Math.min(Math.max((r.y + oy) * sy - input.placement.y, 0), input.source.height);
  const right = Math.min(Math.max((r.x + ox + r.width) * sx - input.placement.x, 0), input.source.width);
  const bottom = Math.min(Math.max((r.y + oy + r.height) * sy - input.placement.y, 0), input.source.height);
  return { x: input.source.x + left, y: input.source.y + top, width: right - left, height: bottom - top };
}

/** One visual token's footprint: the image rectangle it covers (empty when it covers padding only). */
export interface TokenBox extends Rect {
  /** Plan input the token comes from. */
  input: number;
  /** Its cell in that input's token grid; absent when the input's tokens form no grid at `stride`. */
  cell?: { col: number; row: number; cols: number; rows: number };
}

/**
 * The image rectangle of every visual token, in the order the features hold them (the
 * recipe's images, each keeping its last `keepLast` tokens). A token of a fully
 * convolutional or patch encoder covers one `stride` x `stride` cell of its input tensor,
 * in row-major order (with the recipe's `tokenExtent` 'column', a token of the last row
 * stands for its whole column); an input whose tokens form no such grid (pooled or merged
 * tokens) gives each of them the input's whole footprint.
 */
export function tokenBoxes(plan: ImagePlan, stride: number): TokenBox[] {
  const images = plan.recipe.runs.flatMap((run) => run.images);
  return images.flatMap((index, i) => {
    const input = plan.inputs[index]!;
    const out = outputSize(input);
    const cols = out.width / stride;
    const rows = out.height / stride;
    const grid = Number.isInteger(cols) && Number.isInteger(rows) ? cols * rows : 0;
    const kept = plan.recipe.keepLast?.[i] ?? (grid || input.tokens);
    if (grid < kept) {
      const whole = outputToImage(input, { x: 0, y: 0, ...out });
      return Array.from({ length: kept }, () => ({ ...whole, input: index }));
    }
    return Array.from({ length: kept }, (_, k) => {
      const cell = grid - kept + k;
      const col = cell % cols;
      const row = Math.floor(cell / cols);
      const top = plan.recipe.tokenExtent === 'column' && row === rows - 1 ? 0 : row;
      const box = outputToImage(input, { x: col * stride, y: top * stride, width: stride, height: (row + 1 - top) * stride });
      return { ...box, input: index, cell: { col, row, cols, rows } };
    });
  });
}
