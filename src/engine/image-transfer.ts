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
  if (typeof Blob !== 'undefined' && input instanceof Blob) return (await isSvg(input)) ? rasterizeSvg(input) : input;
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

async function isSvg(blob: Blob): Promise<boolean> {
  if (blob.type === 'image/svg+xml') return true;
  const head = (await blob.slice(0, 512).text()).trimStart();
  return head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'));
}

/**
 * Workers cannot decode SVG, so the page rasterises it at its intrinsic size: width and
 * height, else the viewBox size. An SVG with neither has no size to rasterise at: that is
 * a typed error, not a guess (browsers would silently use 300 x 150).
 */
async function rasterizeSvg(blob: Blob): Promise<WorkerImageSource> {
  let text = await blob.text();
  const root = /<svg\b[^>]*>/i.exec(text)?.[0] ?? '';
  const hasSize = /\swidth\s*=/.test(root) && /\sheight\s*=/.test(root);
  if (!hasSize) {
    const box = /viewBox\s*=\s*["']\s*[-\d.]+[\s,]+[-\d.]+[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(root);
    if (!box) {
      throw new LoupeError(
        'IMAGE_DECODE_FAILED',
        'This SVG has no intrinsic size (no width/height and no viewBox), so there is no resolution to rasterise it at. ' +
          'Add width and height attributes, or draw it to a canvas at the size you want and pass the canvas.',
      );
    }
    text = text.replace(root, root.replace(/<svg\b/i, `<svg width="${box[1]}" height="${box[2]}"`));
  }
  if (typeof document === 'undefined') {
    throw new LoupeError('IMAGE_DECODE_FAILED', 'SVG needs a page to rasterise it; pass a canvas or bitmap from a worker instead.');
  }
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const bitmap = await createImageBitmap(image);
    return Comlink.transfer(bitmap, [bitmap]);
  } catch (error) {
    throw new LoupeError('IMAGE_DECODE_FAILED', `The SVG could not be rendered (${String(error)}). Check that it is valid SVG.`, { cause: error });
  } finally {
    URL.revokeObjectURL(url);
  }
}
