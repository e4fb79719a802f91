/**
 * Pillow's separable resampling (ImagingResample), reproduced to the bit for 8-bit RGB:
 * the same filter support scaling when shrinking (antialias), the same fixed-point
 * coefficients (22 fractional bits), the same rounding, the same clipping of the uint8
 * intermediate between the horizontal and the vertical pass. Canvas drawImage does none
 * of this, which is why the reference processors' tensors cannot be matched with it.
 */

export type Filter = 'bicubic' | 'bilinear';

interface FilterDef {
  support: number;
  weight: (x: number) => number;
}

const BICUBIC_A = -0.5;

const FILTERS: Record<Filter, FilterDef> = {
  bicubic: {
    support: 2,
    weight: (x) => {
      const t = Math.abs(x);
      if (t < 1) return ((BICUBIC_A + 2) * t - (BICUBIC_A + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * BICUBIC_A;
      return 0;
    },
  },
  bilinear: {
    support: 1,
    weight: (x) => {
      const t = Math.abs(x);
      return t < 1 ? 1 - t : 0;
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

/** Per output sample: first source index, tap count, and integer weights. */
export interface Coefficients {
  ksize: number;
  starts: Int32Array;
  counts: Int32Array;
  weights: Int32Array;
}

/** Mirrors Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis. */
export function coefficients(inSize: number, in0: number, in1: number, outSize: number, filter: Filter): Coefficients {
  const def = FILTERS[filter];
  const scale = (in1 - in0) / outSize;
  const filterScale = Math.max(scale, 1);
  const support = def.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const starts = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const raw = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const inv = 1 / filterScale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = def.weight((x + xmin - center + 0.5) * inv);
      raw[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const k = total !== 0 ? raw[x]! / total : raw[x]!;
      weights[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    starts[xx] = xmin;
    counts[xx] = Math.max(xmax, 0);
  }
  return { ksize, starts, counts, weights };
}

function clip8(sum: number): number {
  if (sum <= 0) return 0;
  const value = Math.floor(sum / ONE);
  return value > 255 ? 255 : value;
}

/** An RGBA8 raster (ImageData-shaped). Alpha is ignored: resampling is per RGB channel. */
export interface Rgba8 {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** A source rectangle in (possibly fractional) source coordinates, as Pillow's `box`. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Image.resize((outWidth, outHeight), filter, box) for an RGB image stored as RGBA8.
 * Returns packed RGB (3 bytes per pixel).
 */
export function resampleRgb(src: Rgba8, outWidth: number, outHeight: number, filter: Filter, box?: Box): Uint8Array {
  const b = box ?? { x0: 0, y0: 0, x1: src.width, y1: src.height };
  const needH = outWidth !== src.width || b.x0 !== 0 || b.x1 !== outWidth;
  const needV = outHeight !== src.height || b.y0 !== 0 || b.y1 !== outHeight;
  const horiz = coefficients(src.width, b.x0, b.x1, outWidth, filter);
  const vert = coefficients(src.height, b.y0, b.y1, outHeight, filter);

  // Rows of the source the vertical pass will read, as Pillow computes them.
  const firstRow = needV ? vert.starts[0]! : Math.trunc(b.y0);
  const lastRow = needV ? vert.starts[outHeight - 1]! + vert.counts[outHeight - 1]! : Math.trunc(b.y0) + outHeight;

  let mid: Uint8Array;
  let midWidth: number;
  const midHeight = lastRow - firstRow;
  if (needH) {
    midWidth = outWidth;
    mid = new Uint8Array(midWidth * midHeight * 3);
    for (let y = 0; y < midHeight; y++) {
      const rowBase = (y + firstRow) * src.width * 4;
      for (let xx = 0; xx < outWidth; xx++) {
        const start = horiz.starts[xx]!;
        const count = horiz.counts[xx]!;
        const kBase = xx * horiz.ksize;
        let r = HALF, g = HALF, bl = HALF;
        for (let x = 0; x < count; x++) {
          const k = horiz.weights[kBase + x]!;
          const p = rowBase + (start + x) * 4;
          r += src.data[p]! * k;
          g += src.data[p + 1]! * k;
          bl += src.data[p + 2]! * k;
        }
        const o = (y * midWidth + xx) * 3;
        mid[o] = clip8(r);
        mid[o + 1] = clip8(g);
        mid[o + 2] = clip8(bl);
      }
    }
  } else {
    midWidth = src.width;
    const x0 = Math.trunc(b.x0);
    mid = new Uint8Array(outWidth * midHeight * 3);
    for (let y = 0; y < midHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        const p = ((y + firstRow) * src.width + x + x0) * 4;
        const o = (y * outWidth + x) * 3;
        mid[o] = src.data[p]!;
        mid[o + 1] = src.data[p + 1]!;
        mid[o + 2] = src.data[p + 2]!;
      }
    }
    midWidth = outWidth;
  }
  if (!needV) return mid;

  const out = new Uint8Array(outWidth * outHeight * 3);
  for (let yy = 0; yy < outHeight; yy++) {
    const start = vert.starts[yy]! - firstRow;
    const count = vert.counts[yy]!;
    const kBase = yy * vert.ksize;
    for (let xx = 0; xx < outWidth; xx++) {
      let r = HALF, g = HALF, bl = HALF;
      for (let y = 0; y < count; y++) {
        const k = vert.weights[kBase + y]!;
        const p = ((start + y) * midWidth + xx) * 3;
        r += mid[p]! * k;
        g += mid[p + 1]! * k;
        bl += mid[p + 2]! * k;
      }
      const o = (yy * outWidth + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(bl);
    }
  }
  return out;
}
