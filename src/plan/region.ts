import { LoupeError } from '../errors';
import type { ImagePlan, Rect } from './types';

/** A region must be whole pixels inside the image and at least one pixel each way. */
export function checkRegion(region: Rect, width: number, height: number): void {
  const { x, y, width: w, height: h } = region;
  const whole = [x, y, w, h].every((v) => Number.isInteger(v));
  if (!whole || x < 0 || y < 0 || w < 1 || h < 1 || x + w > width || y + h > height) {
    throw new LoupeError(
      'INVALID_ARGUMENT',
      `region must be whole pixels inside the ${width} x ${height} image (x, y >= 0, width, height >= 1); got ${JSON.stringify(region)}.`,
      { details: { region, imageWidth: width, imageHeight: height } },
    );
  }
}

/**
 * A plan made for a region's size, moved to where the region sits: every input's source
 * shifts by the region's corner, and the plan again describes the whole image it came from.
 * Any strategy works unchanged on a region (the zoomed pass of `ask(..., { zoom })`).
 */
export function atRegion(plan: ImagePlan, region: Rect, width: number, height: number): ImagePlan {
  return {
    ...plan,
    imageWidth: width,
    imageHeight: height,
    inputs: plan.inputs.map((input) => ({ ...input, source: { ...input.source, x: input.source.x + region.x, y: input.source.y + region.y } })),
    notes: [...plan.notes, `Region ${region.width} x ${region.height} at (${region.x}, ${region.y}) of the ${width} x ${height} image.`],
  };
}
