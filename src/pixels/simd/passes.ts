import { FIXED_HALF, clip8, type Coefficients } from '../pil-resample';
import { RESAMPLE_WASM_BASE64 } from './resample-wasm';

/**
 * The two inner loops of the Pillow-exact resize, behind one interface: plain JavaScript, or
 * wasm SIMD (resample.wat) where the engine has it. Both give the same bytes; the SIMD one
 * works on buffers inside its own memory, which is why the buffers come from here.
 */
export interface ResamplePasses {
  readonly kind: 'simd' | 'scalar';
  /** The canvas row buffer (RGBA) the source rows are loaded into. */
  readonly line: Uint8Array;
  /** A fresh buffer for one horizontally resampled row (packed RGB). */
  row(): Uint8Array;
  /** Horizontal pass of `line` (RGBA) into `target` (RGB), output columns x0..x1. */
  horizontal(line: Uint8Array, target: Uint8Array, x0: number, x1: number): void;
  /** Vertical pass for output row `yy` from its taps' rows into `out` at `offset`. */
  vertical(out: Uint8Array, offset: number, width: number, yy: number, taps: readonly Uint8Array[]): void;
  /** Bytes held for the buffers above. */
  readonly bytes: number;
}

export interface PassLayout {
  /** Canvas width in pixels (the RGBA line). */
  canvasWidth: number;
  /** Output columns per resampled row. */
  rowWidth: number;
  /** How many resampled rows will be allocated with row(). */
  rows: number;
  horizontal: Coefficients;
  vertical: Coefficients;
}

/** Plain JavaScript: the reference loops. */
export function scalarPasses(layout: PassLayout): ResamplePasses {
  const { weights: hw, starts: hs, counts: hc, ksize: hk } = layout.horizontal;
  const vert = layout.vertical;
  const line = new Uint8Array(layout.canvasWidth * 4);
  let bytes = line.byteLength;
  return {
    kind: 'scalar',
    line,
    get bytes() {
      return bytes;
    },
    row() {
      bytes += layout.rowWidth * 3;
      return new Uint8Array(layout.rowWidth * 3);
    },
    horizontal(src, target, x0, x1) {
      for (let xx = x0, o = 0; xx < x1; xx++, o += 3) {
        const count = hc[xx]!;
        const base = xx * hk;
        let r = FIXED_HALF;
        let g = FIXED_HALF;
        let b = FIXED_HALF;
        for (let k = 0, p = hs[xx]! * 4; k < count; k++, p += 4) {
          const w = hw[base + k]!;
          r += src[p]! * w;
          g += src[p + 1]! * w;
          b += src[p + 2]! * w;
        }
        target[o] = clip8(r);
        target[o + 1] = clip8(g);
        target[o + 2] = clip8(b);
      }
    },
    vertical(out, offset, width, yy, taps) {
      const base = yy * vert.ksize;
      const count = vert.counts[yy]!;
      for (let x = 0; x < width; x++) {
        let r = FIXED_HALF;
        let g = FIXED_HALF;
        let b = FIXED_HALF;
        const i = x * 3;
        for (let k = 0; k < count; k++) {
          const w = vert.weights[base + k]!;
          const src = taps[k]!;
          r += src[i]! * w;
          g += src[i + 1]! * w;
          b += src[i + 2]! * w;
        }
        out[offset + i] = clip8(r);
        out[offset + i + 1] = clip8(g);
        out[offset + i + 2] = clip8(b);
      }
    },
  };
}

interface ResampleExports {
  memory: WebAssembly.Memory;
  hpass(src: number, dst: number, x0: number, x1: number, starts: number, pairs: number, wvec: number, stride: number): void;
  vpass(dst: number, n: number, rows: number, weights: number, count: number): void;
}

let instance: ResampleExports | null | undefined;

/** The SIMD module, once per worker; null where the engine lacks wasm SIMD. */
function simdModule(): ResampleExports | null {
  if (instance !== undefined) return instance;
  try {
    const bytes = Uint8Array.from(atob(RESAMPLE_WASM_BASE64), (c) => c.charCodeAt(0));
    // 439 bytes: synchronous compilation is allowed for modules this small, even on the main thread.
    instance = WebAssembly.validate(bytes) ? (new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as ResampleExports) : null;
  } catch {
    instance = null;
  }
  return instance;
}

/** A bump allocator over the module's memory, grown once for the whole layout. */
class Arena {
  private top = 0;
  constructor(private readonly memory: WebAssembly.Memory) {}

  reserve(bytes: number): number {
    const at = this.top;
    this.top += (bytes + 15) & ~15;
    return at;
  }

  commit(): ArrayBuffer {
    const need = this.top - this.memory.buffer.byteLength;
    if (need > 0) this.memory.grow(Math.ceil(need / 65536));
    return this.memory.buffer;
  }
}

/**
 * Lays out the horizontal weights for hpass: per column and tap pair, eight i16 lanes of the
 * high parts (w0, w1, w0, w1, ...) then eight of the low parts, where w = hi * 2048 + lo.
 */
function splitWeights(h: Coefficients, out: Int16Array, columnLanes: number): void {
  for (let xx = 0; xx < h.counts.length; xx++) {
    const count = h.counts[xx]!;
    for (let pair = 0; pair * 2 < count; pair++) {
      const at = xx * columnLanes + pair * 16;
      for (let t = 0; t < 2; t++) {
        const k = pair * 2 + t;
        const w = k < count ? h.weights[xx * h.ksize + k]! : 0;
        const hi = Math.floor(w / 2048);
        for (let lane = t; lane < 8; lane += 2) {
          out[at + lane] = hi;
          out[at + 8 + lane] = w - hi * 2048;
        }
      }
    }
  }
}

/** wasm SIMD, or undefined where unavailable (the caller then uses scalarPasses). */
export function simdPasses(layout: PassLayout): ResamplePasses | undefined {
  const wasm = simdModule();
  if (!wasm) return undefined;
  const { horizontal: h, vertical: v } = layout;
  const rowBytes = layout.rowWidth * 3 + 4; // slack: 4-byte stores and loads past the end
  const arena = new Arena(wasm.memory);
  const pairsPerColumn = Math.ceil(h.ksize / 2);
  const stride = pairsPerColumn * 32;
  const starts = arena.reserve(h.starts.byteLength);
  const pairs = arena.reserve(h.counts.byteLength);
  const hWeights = arena.reserve(h.counts.length * stride);
  const vWeights = arena.reserve(v.weights.byteLength);
  const rowPointers = arena.reserve(v.ksize * 4);
  const line = arena.reserve(layout.canvasWidth * 4 + 4); // the last pair may read one pixel past the end
  const outRow = arena.reserve(rowBytes);
  const rowsAt = Array.from({ length: layout.rows }, () => arena.reserve(rowBytes));
  const buffer = arena.commit();
  new Int32Array(buffer, starts, h.starts.length).set(h.starts);
  new Int32Array(buffer, pairs, h.counts.length).set(h.counts.map((count) => Math.ceil(count / 2)));
  splitWeights(h, new Int16Array(buffer, hWeights, (h.counts.length * stride) / 2), stride / 2);
  new Int32Array(buffer, vWeights, v.weights.length).set(v.weights);
  const pointers = new Int32Array(buffer, rowPointers, v.ksize);
  const out = new Uint8Array(buffer, outRow, rowBytes);
  let nextRow = 0;
  return {
    kind: 'simd',
    line: new Uint8Array(buffer, line, layout.canvasWidth * 4),
    bytes: buffer.byteLength,
    row() {
      const at = rowsAt[nextRow++];
      if (at === undefined) throw new Error('simdPasses: more rows requested than the layout reserved');
      return new Uint8Array(buffer, at, layout.rowWidth * 3);
    },
    horizontal(src, target, x0, x1) {
      wasm.hpass(src.byteOffset, target.byteOffset, x0, x1, starts, pairs, hWeights, stride);
    },
    vertical(dst, offset, width, yy, taps) {
      const count = v.counts[yy]!;
      for (let k = 0; k < count; k++) pointers[k] = taps[k]!.byteOffset;
      const n = width * 3;
      wasm.vpass(outRow, n, rowPointers, vWeights + yy * v.ksize * 4, count);
      dst.set(out.subarray(0, n), offset);
    },
  };
}
