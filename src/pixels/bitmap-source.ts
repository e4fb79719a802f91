import { LoupeError } from '../errors';
import type { RGB } from '../plan';
import { compositeOver, type PixelSource } from './source';

/** Rows read per canvas round trip: bounded by bytes, so a wide image takes fewer rows. */
const STRIP_BYTES = 4 * 2 ** 20;

/**
 * Reads an ImageBitmap strip by strip through a small OffscreenCanvas at 1:1, so no
 * full-resolution copy is ever made. Transparency is composited over the fill in integer
 * arithmetic here rather than by canvas blending, whose premultiplied rounding is off by up
 * to 3 levels against the reference; this way it is off by at most 1.
 */
export class BitmapSource implements PixelSource {
  private canvas: OffscreenCanvas;
  private context: OffscreenCanvasRenderingContext2D;
  private peakCanvasBytes = 0;

  /** `opaque`: the format has no alpha (JPEG), so compositing is skipped. */
  constructor(
    private readonly bitmap: ImageBitmap,
    private readonly alphaFill: RGB,
    private readonly opaque = false,
  ) {
    this.canvas = new OffscreenCanvas(1, 1);
    const context = this.canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new LoupeError('INTERNAL', 'OffscreenCanvas 2D context is unavailable in this worker.');
    this.context = context;
  }

  get width(): number {
    return this.bitmap.width;
  }

  get height(): number {
    return this.bitmap.height;
  }

  /** The canvas backing store plus the ImageData copy getImageData makes of it. */
  get workingBytes(): number {
    return this.peakCanvasBytes * 2;
  }

  /** How many rows of width `w` one strip read should take. */
  static stripRows(w: number): number {
    return Math.max(1, Math.floor(STRIP_BYTES / (w * 4)));
  }

  readRegion(x: number, y: number, w: number, h: number, out: Uint8Array): void {
    // Exactly the strip's size: a wide strip then a tall one must not leave a wide-and-tall canvas.
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.peakCanvasBytes = Math.max(this.peakCanvasBytes, w * h * 4);
    }
    const ctx = this.context;
    ctx.imageSmoothingEnabled = false;
    ctx.globalCompositeOperation = 'source-over';
    ctx.clearRect(0, 0, w, h);
    ctx.drawImage(this.bitmap, x, y, w, h, 0, 0, w, h);
    const region = out.subarray(0, w * h * 4);
    region.set(ctx.getImageData(0, 0, w, h).data.subarray(0, w * h * 4));
    if (!this.opaque) compositeOver(region, this.alphaFill);
  }

  close(): void {
    this.bitmap.close();
    this.canvas.width = 1;
    this.canvas.height = 1;
  }
}
