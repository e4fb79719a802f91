import { LoupeError, abortError } from '../errors';
import type { RGB } from '../plan';
import { BitmapSource } from './bitmap-source';
import { readImageHeader } from './image-header';
import { RasterSource, type PixelSource } from './source';

/** What a worker can receive: things that survive postMessage (the main thread converts the rest). */
export type WorkerImageSource = Blob | ImageBitmap | ImageData | string;

/**
 * Chromium refuses to decode images above 2^28 pixels (its canvas area limit) and
 * JPEG/WebP cap each side at 65535. Loupe checks the header first and names the limit.
 */
export const MAX_IMAGE_PIXELS = 2 ** 28;
export const MAX_IMAGE_SIDE = 65_535;

/** A decoded image, read region by region through a PixelSource. */
export interface DecodedImage {
  width: number;
  height: number;
  /** A reader that composites transparency over `alphaFill`. */
  open(alphaFill: RGB): PixelSource;
  close(): void;
}

function decodeError(message: string, cause?: unknown): LoupeError {
  return new LoupeError('IMAGE_DECODE_FAILED', message, cause === undefined ? {} : { cause });
}

export function checkImageSize(width: number, height: number, what: string): void {
  if (width === 0 || height === 0) throw decodeError(`The image has no pixels (${width} x ${height}). Use a non-empty image.`);
  if (width * height > MAX_IMAGE_PIXELS || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new LoupeError(
      'IMAGE_TOO_LARGE',
      `${what} is ${width} x ${height} (${((width * height) / 1e6).toFixed(0)} MP); the browser decodes at most ` +
        `${MAX_IMAGE_PIXELS / 2 ** 20} Mi pixels and ${MAX_IMAGE_SIDE} px per side. Downscale it first (any image editor or ImageMagick does).`,
      { details: { width, height, maxPixels: MAX_IMAGE_PIXELS, maxSide: MAX_IMAGE_SIDE } },
    );
  }
}

async function blobFromUrl(url: string, signal: AbortSignal | undefined): Promise<Blob> {
  let response: Response;
  try {
    response = await fetch(url, { signal: signal ?? null });
  } catch (error) {
    if (signal?.aborted) throw abortError('Fetching the image');
    throw decodeError(`Could not fetch the image at ${url} (${String(error)}). Check the URL or pass a Blob.`, error);
  }
  if (!response.ok) throw decodeError(`The image URL ${url} answered HTTP ${response.status}; expected 200 with image bytes.`);
  return response.blob();
}

/** The decoded bitmap, and whether its format cannot carry transparency (JPEG). */
async function bitmapFromBlob(blob: Blob): Promise<{ bitmap: ImageBitmap; opaque: boolean }> {
  const header = readImageHeader(new Uint8Array(await blob.slice(0, 256 * 1024).arrayBuffer()));
  if (header?.format === 'svg' || blob.type === 'image/svg+xml') {
    throw decodeError(
      'SVG cannot be decoded inside a worker. Pass it as an HTMLImageElement (Loupe rasterises it on the page at its intrinsic size), or rasterise it first.',
    );
  }
  if (header) checkImageSize(header.width, header.height, `This ${header.format.toUpperCase()} image`);
  try {
    // EXIF orientation honoured; no premultiplication or colour conversion, so bytes stay as encoded.
    const bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    return { bitmap, opaque: header?.format === 'jpeg' };
  } catch (error) {
    throw decodeError(
      `The ${blob.type || 'unknown-type'} data (${blob.size} bytes) is not an image this browser can decode. Use a JPEG, PNG, WebP, GIF or AVIF file.`,
      error,
    );
  }
}

function fromBitmap(bitmap: ImageBitmap, opaque = false): DecodedImage {
  checkImageSize(bitmap.width, bitmap.height, 'The image');
  return {
    width: bitmap.width,
    height: bitmap.height,
    open: (fill) => new BitmapSource(bitmap, fill, opaque),
    close: () => bitmap.close(),
  };
}

/**
 * The source as the worker can hold it: a URL fetched to its (still encoded) bytes; a Blob,
 * ImageBitmap or ImageData as it is.
 */
export async function fetchImageSource(source: WorkerImageSource, signal?: AbortSignal): Promise<Exclude<WorkerImageSource, string>> {
  return typeof source === 'string' ? blobFromUrl(source, signal) : source;
}

/** Decodes any accepted source inside the worker, without materialising a full-size copy. */
export async function decodeImage(source: WorkerImageSource, signal?: AbortSignal): Promise<DecodedImage> {
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) {
    checkImageSize(source.width, source.height, 'The ImageData');
    const raster = { width: source.width, height: source.height, data: source.data };
    return { width: source.width, height: source.height, open: (fill) => new RasterSource(raster, fill), close: () => undefined };
  }
  if (typeof ImageBitmap !== 'undefined' && source instanceof ImageBitmap) return fromBitmap(source);
  const blob = typeof source === 'string' ? await blobFromUrl(source, signal) : (source as Blob);
  if (signal?.aborted) throw abortError('Decoding the image');
  const { bitmap, opaque } = await bitmapFromBlob(blob);
  return fromBitmap(bitmap, opaque);
}
