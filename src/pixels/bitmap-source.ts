import { LoupeError } from '../errors';
import type { RGB } from '../plan';
import type { PixelSource } from './source';

/** Rows read per canvas round trip: bounded by bytes, so a wide image takes fewer rows. */
const STRIP_BYTES = 8 * 2 ** 20;

/**
 * Reads an ImageBitmap strip by strip through a small OffscreenCanvas: the canvas is
 * filled with the alpha fill and the bitmap drawn over it at 1:1, so transparency is
 * composited by the browser and no full-resolution copy is ever made.
 */
export class BitmapSource implements PixelSource {
  private canvas: OffscreenCanvas;
  private context: OffscreenCanvasRenderingContext2D;

  constructor(
    private readonly bitmap: ImageBitmap,
    private readonly alphaFill: RGB,
  ) {
    this.canvas = new OffscreenCanvas(1, 1);
    const context = this.canvas.getContext('2d', { willReadFrequently: true, alpha: false });
    if (!context) throw new LoupeError('INTERNAL', 'OffscreenCanvas 2D context is unavailable in this worker.');
    this.context = context;
  }

  get width(): number {
    return this.bitmap.width;
  }

  get height(): number {
    return this.bitmap.height;
  }

  get workingBytes(): number {
    return this.canvas.width * this.canvas.height * 4;
  }

  /** How many rows of width `w` one strip read should take. */
  static stripRows(w: number): number {
    return Math.max(1, Math.floor(STRIP_BYTES / (w * 4)));
  }

  readRegion(x: number, y: number, w: number, h: number, out: Uint8Array): void {
    if (this.canvas.width < w || this.canvas.height < h) {
      this.canvas.width = Math.max(this.canvas.width, w);
      this.canvas.height = Math.max(this.canvas.height, h);
    }
    const ctx = this.context;
    ctx.imageSmoothingEnabled = false;
    ctx.globalCompositeOperation = 'source-over';
    ctx.fillStyle = `rgb(${this.alphaFill[0]}, ${this.alphaFill[1]}, ${this.alphaFill[2]})`;
    ctx.fillRect(0, 0, w, h);
    ctx.drawImage(this.bitmap, x, y, w, h, 0, 0, w, h);
    out.set(ctx.getImageData(0, 0, w, h).data.subarray(0, w * h * 4));
  }

  close(): void {
    this.bitmap.close();
    this.canvas.width = 1;
    this.canvas.height = 1;
  }
}
