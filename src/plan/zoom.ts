import { LoupeError } from '../errors';
import type { TokenBox } from './token-boxes';
import type { Rect } from './types';

/** A window of a token grid, in cells. */
export interface GridWindow {
  col: number;
  row: number;
  cols: number;
  rows: number;
  /** The share of the grid's total score inside the window. */
  mass: number;
}

/**
 * The smallest window of a `cols` x `rows` grid of non-negative scores (row-major) that
 * holds at least `mass` of their total; among windows of that area the one holding the
 * most, then the first in row-major order. Pure, O(cols² rows²) with prefix sums (24 x 24
 * tokens: 0.3 M windows). A grid with no positive score has no window (undefined).
 */
export function zoomWindow(scores: ArrayLike<number>, cols: number, rows: number, mass = 0.5): GridWindow | undefined {
  if (!(Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0) || scores.length !== cols * rows) {
    throw new LoupeError('INVALID_ARGUMENT', `zoomWindow needs cols x rows scores; got ${scores.length} for ${cols} x ${rows}.`);
  }
  if (!(mass > 0 && mass <= 1)) throw new LoupeError('INVALID_ARGUMENT', `mass must be in (0, 1]; got ${mass}.`);
  // sums[(r) * (cols + 1) + c]: total of the cells above and left of (c, r).
  const w = cols + 1;
  const sums = new Float64Array(w * (rows + 1));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = Math.max(Number(scores[r * cols + c]) || 0, 0);
      sums[(r + 1) * w + c + 1] = v + sums[r * w + c + 1]! + sums[(r + 1) * w + c]! - sums[r * w + c]!;
    }
  }
  const total = sums[rows * w + cols]!;
  if (!(total > 0)) return undefined;
  // Float32 scores: a window "holding 0.4" may sum to 0.4 less a few ulps of the total.
  const need = mass * total * (1 - 1e-6);
  let best: GridWindow | undefined;
  let bestArea = Infinity;
  for (let h = 1; h <= rows; h++) {
    for (let ww = 1; ww <= cols; ww++) {
      const area = h * ww;
      if (area > bestArea) continue;
      for (let r = 0; r + h <= rows; r++) {
        for (let c = 0; c + ww <= cols; c++) {
          const s = sums[(r + h) * w + c + ww]! - sums[r * w + c + ww]! - sums[(r + h) * w + c]! + sums[r * w + c]!;
          if (s < need) continue;
          const share = s / total;
          if (area < bestArea || (area === bestArea && share > best!.mass)) {
            best = { col: c, row: r, cols: ww, rows: h, mass: share };
            bestArea = area;
          }
        }
      }
    }
  }
  return best;
}

export interface ZoomOptions {
  /** Share of the evidence the window must hold (default 0.5). */
  mass?: number;
  /** Smallest side of the region, as a share of the image's longer side (default 0.25). */
  minSide?: number;
}

/** The zoom region and how it was chosen. */
export interface ZoomChoice {
  region: Rect;
  window: GridWindow;
}

/** A square of side `side` centred on `box`, moved (not cut) to lie inside the image where it fits. */
function squareAround(box: Rect, side: number, width: number, height: number): Rect {
  const w = Math.min(side, width);
  const h = Math.min(side, height);
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const x = Math.round(Math.min(Math.max(cx - w / 2, 0), width - w));
  const y = Math.round(Math.min(Math.max(cy - h / 2, 0), height - h));
  return { x, y, width: Math.round(w), height: Math.round(h) };
}

/**
 * Where to look closer: the smallest window of the first token grid holding `mass` of the
 * evidence, as whole token cells in image pixels, grown to a square of at least `minSide`
 * of the image's longer side (inside the image; a square because the model's own inputs
 * are). Undefined when no token carries evidence or the plan has no token grid.
 */
export function zoomRegion(boxes: readonly TokenBox[], scores: ArrayLike<number>, width: number, height: number, options: ZoomOptions = {}): ZoomChoice | undefined {
  if (boxes.length !== scores.length) {
    throw new LoupeError('INVALID_ARGUMENT', `zoomRegion needs one score per token box; got ${scores.length} scores for ${boxes.length} boxes.`);
  }
  const first = boxes.findIndex((b) => b.cell);
  const grid = boxes[first]?.cell;
  if (!grid) return undefined;
  const count = grid.cols * grid.rows;
  const own = boxes.slice(first, first + count);
  if (own.length !== count || own.some((b, k) => b.input !== boxes[first]!.input || b.cell!.col + b.cell!.row * grid.cols !== k)) return undefined;
  const window = zoomWindow(Array.from(scores).slice(first, first + count), grid.cols, grid.rows, options.mass ?? 0.5);
  if (!window) return undefined;
  const cells = own.filter((b) => b.cell!.col >= window.col && b.cell!.col < window.col + window.cols && b.cell!.row >= window.row && b.cell!.row < window.row + window.rows && b.width > 0 && b.height > 0);
  if (cells.length === 0) return undefined;
  const x0 = Math.min(...cells.map((b) => b.x));
  const y0 = Math.min(...cells.map((b) => b.y));
  const x1 = Math.max(...cells.map((b) => b.x + b.width));
  const y1 = Math.max(...cells.map((b) => b.y + b.height));
  const box = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  const side = Math.max(box.width, box.height, (options.minSide ?? 0.25) * Math.max(width, height));
  return { region: squareAround(box, Math.ceil(side), width, height), window };
}
