import { LoupeError, abortError } from '../errors';
import type { Rgba8 } from './pil-resample';

/** What a worker can receive: things that survive postMessage (the main thread converts the rest). */
export type WorkerImageSource = Blob | ImageBitmap | ImageData | string;

function decodeError(message: string, cause?: unknown): LoupeError {
  return new LoupeError('IMAGE_DECODE_FAILED', message, cause === undefined ? {} : { cause });
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

async function bitmapFromBlob(blob: Blob): Promise<ImageBitmap> {
  try {
    // EXIF orientation honoured; no premultiplication or colour conversion so bytes stay as encoded.
    return await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch (error) {
    throw decodeError(
      `The ${blob.type || 'unknown-type'} data (${blob.size} bytes) is not an image this browser can decode. Use a JPEG, PNG, WebP, GIF or AVIF file.`,
      error,
    );
  }
}

function rasterize(bitmap: ImageBitmap): Rgba8 {
  const { width, height } = bitmap;
  if (width === 0 || height === 0) throw decodeError(`The image has no pixels (${width} x ${height}). Use a non-empty image.`);
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new LoupeError('INTERNAL', 'OffscreenCanvas 2D context is unavailable in this worker.');
  context.drawImage(bitmap, 0, 0);
  const image = context.getImageData(0, 0, width, height);
  return { width, height, data: image.data };
}

/** Decodes any accepted source to RGBA8 inside the worker. */
export async function decodeImage(source: WorkerImageSource, signal?: AbortSignal): Promise<Rgba8> {
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) {
    return { width: source.width, height: source.height, data: source.data };
  }
  if (typeof ImageBitmap !== 'undefined' && source instanceof ImageBitmap) {
    try {
      return rasterize(source);
    } finally {
      source.close();
    }
  }
  const blob = typeof source === 'string' ? await blobFromUrl(source, signal) : (source as Blob);
  if (signal?.aborted) throw abortError('Decoding the image');
  const bitmap = await bitmapFromBlob(blob);
  try {
    return rasterize(bitmap);
  } finally {
    bitmap.close();
  }
}
