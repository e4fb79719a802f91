import type { RGB } from '../plan';
import type { Rgba8 } from './pil-resample';

/**
 * Where pixels come from, read a region at a time so a huge image is never copied whole.
 * Regions come back as RGBA8 rows, already composited over the plan's alpha fill.
 */
export interface PixelSource {
  readonly width: number;
  readonly height: number;
  /** Writes `w` x `h` RGBA pixels from (x, y) into `out` (length >= w * h * 4). */
  readRegion(x: number, y: number, w: number, h: number, out: Uint8Array): void;
  /** Bytes this source holds beyond the decoded image (strip canvases). */
  readonly workingBytes: number;
}

/** Transparent pixels over `fill`, in integers: (c*a + f*(255-a) + 127) / 255. */
export function compositeOver(data: Uint8Array, fill: RGB): void {
  for (let i = 0; i < data.length; i += 4) {
    const a = data[i + 3]!;
    if (a === 255) continue;
    const inv = 255 - a;
    data[i] = Math.floor((data[i]! * a + fill[0] * inv + 127) / 255);
    data[i + 1] = Math.floor((data[i + 1]! * a + fill[1] * inv + 127) / 255);
    data[i + 2] = Math.floor((data[i + 2]! * a + fill[2] * inv + 127) / 255);
    data[i + 3] = 255;
  }
}

/** An in-memory RGBA raster (ImageData, or a decoded fixture in tests). */
export class RasterSource implements PixelSource {
  readonly workingBytes = 0;

  constructor(
    private readonly raster: Rgba8,
    private readonly alphaFill: RGB,
  ) {}

  get width(): number {
    return this.raster.width;
  }

  get height(): number {
    return this.raster.height;
  }

  readRegion(x: number, y: number, w: number, h: number, out: Uint8Array): void {
    for (let row = 0; row < h; row++) {
      const from = ((y + row) * this.raster.width + x) * 4;
      out.set(this.raster.data.subarray(from, from + w * 4), row * w * 4);
    }
    compositeOver(out.subarray(0, w * h * 4), this.alphaFill);
  }
}
