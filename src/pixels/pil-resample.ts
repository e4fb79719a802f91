/**
 * Pillow's separable resampling coefficients (ImagingResample), reproduced to the bit for 8-bit RGB:
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

export const FIXED_HALF = HALF;

/**
 * Pillow's clip8 on a fixed-point sum. Sums stay within int32 (|sum| <= 255 * 1.5 * 2^22),
 * so an arithmetic shift is exact and much cheaper than a division.
 */
export function clip8(sum: number): number {
  const value = sum >> PRECISION_BITS;
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/** An RGBA8 raster (ImageData-shaped). */
export interface Rgba8 {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** Coefficients that copy samples (one tap of weight 1.0): Pillow's "no resize on this axis". */
export function identityCoefficients(size: number): Coefficients {
  return {
    ksize: 1,
    starts: Int32Array.from({ length: size }, (_, i) => i),
    counts: new Int32Array(size).fill(1),
    weights: new Int32Array(size).fill(ONE),
  };
}
