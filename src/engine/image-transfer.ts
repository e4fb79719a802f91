import * as Comlink from 'comlink';
import { LoupeError } from '../errors';
import type { WorkerImageSource } from '../pixels';
import type { ImageInput } from './types';

/**
 * Turns any accepted image into something a worker can take, moving pixels by transfer.
 * Elements that cannot cross postMessage become an ImageBitmap here; decoding of files and
 * URLs happens in the worker so the page never blocks on a large JPEG.
 */
export async function toWorkerSource(input: ImageInput, baseUrl: string): Promise<WorkerImageSource> {
  if (typeof input === 'string') return new URL(input, baseUrl).href;
  if (input instanceof URL) return input.href;
  if (typeof Blob !== 'undefined' && input instanceof Blob) return input;
  if (typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap) return Comlink.transfer(input, [input]);
  if (typeof ImageData !== 'undefined' && input instanceof ImageData) return Comlink.transfer(input, [input.data.buffer]);
  const drawable =
    (typeof HTMLImageElement !== 'undefined' && input instanceof HTMLImageElement) ||
    (typeof HTMLCanvasElement !== 'undefined' && input instanceof HTMLCanvasElement) ||
    (typeof OffscreenCanvas !== 'undefined' && input instanceof OffscreenCanvas) ||
    (typeof VideoFrame !== 'undefined' && input instanceof VideoFrame);
  if (!drawable) {
    throw new LoupeError(
      'INVALID_ARGUMENT',
      'setImage() expects a Blob/File, ImageBitmap, ImageData, HTMLImageElement, canvas, VideoFrame or URL.',
    );
  }
  if (input instanceof HTMLImageElement && !input.complete) {
    await input.decode().catch(() => undefined);
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(input as ImageBitmapSource);
  } catch (error) {
    throw new LoupeError('IMAGE_DECODE_FAILED', `The element could not be read as an image (${String(error)}). Wait for it to load, or pass a Blob.`, {
      cause: error,
    });
  }
  return Comlink.transfer(bitmap, [bitmap]);
}
