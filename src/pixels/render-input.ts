import { outputSize, type PlannedInput } from '../plan';
import { coefficients } from './pil-resample';
import { scalarPasses, simdPasses, type ResamplePasses } from './simd/passes';
import { BitmapSource } from './bitmap-source';
import type { PixelSource } from './source';

/**
 * Executes one planned input into 8-bit RGB, bit-exact with Pillow's resize, streaming:
 * source rows are read a strip at a time, the horizontal pass keeps only the rows the
 * vertical filter still needs (a ring), and only the output window is computed. Memory is
 * O(source width x strip + filter taps x output width), whatever the image size.
 */
export interface RenderedInput {
  rgb: Uint8Array;
  width: number;
  height: number;
  /** Bytes this render held besides the source and its output. */
  workingBytes: number;
}

/** Reads canvas rows (source placed on a filled canvas) strip by strip, in increasing order. */
export class CanvasRows {
  private strip: Uint8Array;
  private stripStart = 0;
  private stripRows = 0;
  private readonly capacity: number;
  private readonly ownsRow: boolean;
  readonly row: Uint8Array;

  /** `row`: where canvas rows are assembled (canvas width x 4 bytes), e.g. inside wasm memory. */
  constructor(
    private readonly source: PixelSource,
    private readonly input: PlannedInput,
    row?: Uint8Array,
  ) {
    this.capacity = BitmapSource.stripRows(input.source.width);
    this.strip = new Uint8Array(input.source.width * Math.min(this.capacity, input.source.height) * 4);
    this.ownsRow = row === undefined;
    this.row = row ?? new Uint8Array(input.canvas.width * 4);
  }

  /** The strip, and the row unless it lives in a buffer the caller accounts for. */
  get workingBytes(): number {
    return this.strip.byteLength + (this.ownsRow ? this.row.byteLength : 0);
  }

  /** Whether canvas row `y` is all fill (above or below the placed source). */
  isFill(y: number): boolean {
    const sy = y - this.input.placement.y;
    return sy < 0 || sy >= this.input.source.height;
  }

  /** Canvas row `y` as RGBA in `this.row`. */
  load(y: number): Uint8Array {
    const { canvas, placement, fill, source } = this.input;
    const row = this.row;
    const sy = y - placement.y;
    const inside = sy >= 0 && sy < source.height;
    const left = inside ? Math.max(0, placement.x) : canvas.width;
    const right = inside ? Math.min(canvas.width, placement.x + source.width) : canvas.width;
    for (let x = 0; x < canvas.width; x++) {
      if (x >= left && x < right) x = right - 1;
      else {
        row[x * 4] = fill[0];
        row[x * 4 + 1] = fill[1];
        row[x * 4 + 2] = fill[2];
        row[x * 4 + 3] = 255;
      }
    }
    if (!inside || right <= left) return row;
    if (sy < this.stripStart || sy >= this.stripStart + this.stripRows) {
      this.stripStart = sy;
      this.stripRows = Math.min(this.capacity, source.height - sy);
      this.source.readRegion(source.x, source.y + sy, source.width, this.stripRows, this.strip);
    }
    const from = ((sy - this.stripStart) * source.width + (left - placement.x)) * 4;
    row.set(this.strip.subarray(from, from + (right - left) * 4), left * 4);
    return row;
  }
}

/** The horizontal pass's output rows, kept while the vertical filter can still use them. */
class RowRing {
  private readonly rows: Uint8Array[];
  private readonly keys: Int32Array;

  constructor(capacity: number, allocate: () => Uint8Array) {
    this.rows = Array.from({ length: capacity }, allocate);
    this.keys = new Int32Array(capacity).fill(-1);
  }

  get(y: number, compute: (y: number, out: Uint8Array) => void): Uint8Array {
    const slot = y % this.rows.length;
    const row = this.rows[slot]!;
    if (this.keys[slot] !== y) {
      compute(y, row);
      this.keys[slot] = y;
    }
    return row;
  }
}

/**
 * The output tensor of an input, pre-filled with its fill colour, and the part of the resized
 * image (columns x0..x1, rows y0..y1) that the window actually shows: what any renderer computes.
 */
export interface OutputFrame {
  rgb: Uint8Array;
  width: number;
  height: number;
  window: { x: number; y: number; width: number; height: number };
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

export function outputFrame(input: PlannedInput): OutputFrame {
  const out = outputSize(input);
  const window = input.window ?? { x: 0, y: 0, width: input.width, height: input.height };
  const rgb = new Uint8Array(out.width * out.height * 3);
  if (rgb.length) {
    // Fill by doubling copies: a few memmoves instead of one call per pixel.
    rgb.set(input.fill, 0);
    for (let filled = 3; filled < rgb.length; filled *= 2) rgb.copyWithin(filled, 0, Math.min(filled, rgb.length - filled));
  }
  return {
    rgb,
    width: out.width,
    height: out.height,
    window,
    x0: Math.max(0, window.x),
    x1: Math.min(input.width, window.x + window.width),
    y0: Math.max(0, window.y),
    y1: Math.min(input.height, window.y + window.height),
  };
}

/** Which inner loops renderInput uses: wasm SIMD where available (default), or plain JavaScript. */
export type ResampleKernel = 'auto' | 'scalar';

export function renderInput(source: PixelSource, input: PlannedInput, kernel: ResampleKernel = 'auto'): RenderedInput {
  const frame = outputFrame(input);
  const { rgb, window, x0, x1, y0, y1 } = frame;
  const canvas = input.canvas;
  const needH = input.width !== canvas.width;
  const needV = input.height !== canvas.height;
  const horizontal = coefficients(canvas.width, 0, canvas.width, input.width, input.filter);
  const vertical = coefficients(canvas.height, 0, canvas.height, input.height, input.filter);
  const ringRows = needV ? vertical.ksize + 1 : 1;
  // One more row for the resampled padding line.
  const layout = { canvasWidth: canvas.width, rowWidth: Math.max(x1 - x0, 0), rows: ringRows + 1, horizontal, vertical };
  const passes: ResamplePasses = (kernel === 'auto' ? simdPasses(layout) : undefined) ?? scalarPasses(layout);
  const rows = new CanvasRows(source, input, passes.line);

  // Horizontal pass of one canvas row, for output columns x0..x1, into packed RGB.
  const pass = (line: Uint8Array, target: Uint8Array) => {
    if (needH) {
      passes.horizontal(line, target, x0, x1);
      return;
    }
    for (let xx = x0, o = 0; xx < x1; xx++, o += 3) {
      target[o] = line[xx * 4]!;
      target[o + 1] = line[xx * 4 + 1]!;
      target[o + 2] = line[xx * 4 + 2]!;
    }
  };
  // Rows of pure padding all resample to the same line: compute it once.
  let fillLine: Uint8Array | undefined;
  const resampled = (y: number, target: Uint8Array) => {
    if (rows.isFill(y)) {
      if (!fillLine) {
        fillLine = passes.row();
        pass(rows.load(y), fillLine);
      }
      target.set(fillLine);
      return;
    }
    pass(rows.load(y), target);
  };

  const ring = new RowRing(ringRows, () => passes.row());
  const taps: Uint8Array[] = [];
  for (let yy = y0; yy < y1; yy++) {
    const outRow = (yy - window.y) * frame.width;
    const outCol = x0 - window.x;
    if (!needV) {
      const line = ring.get(yy, resampled);
      rgb.set(line.subarray(0, (x1 - x0) * 3), (outRow + outCol) * 3);
      continue;
    }
    const start = vertical.starts[yy]!;
    taps.length = 0;
    for (let k = 0; k < vertical.counts[yy]!; k++) taps.push(ring.get(start + k, resampled));
    passes.vertical(rgb, (outRow + outCol) * 3, x1 - x0, yy, taps);
  }
  return { rgb, width: frame.width, height: frame.height, workingBytes: rows.workingBytes + passes.bytes };
}
