/** Node-only helpers for tests: read the committed bundle and golden values from disk. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { parseBundleSpec, type BundleSpec } from '../bundle';
import type { Rgba8 } from '../pixels';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE_DIR = `${ROOT}public/models/tiny-random-convllava/`;
export const FIXTURE_DIR = `${ROOT}e2e/fixtures/tiny-random-convllava/`;

export interface Golden {
  prompt_text: string;
  prompt_ids: number[];
  input_ids_expanded: number[];
  question: string;
  resolution: number;
  num_image_tokens: number;
  greedy_ids: number[];
  /** Per image token: the answer's attention (training/evidence.py), issue #16. */
  evidence: { file: string; slice: number[] };
  greedy_text: string;
  image_features: { shape: number[]; slice: number[]; mean: number; std: number };
  first_logits: { slice: number[]; argmax: number };
  quantized: Record<string, number | boolean>;
}

export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

export const golden = (): Golden => readJson<Golden>(`${FIXTURE_DIR}golden.json`);

/** A shipped bundle's spec, parsed from its files under public/models/ (processor_config.json where it has one). */
export function bundleSpec(name = 'tiny-random-convllava'): BundleSpec {
  const dir = `${ROOT}public/models/${name}/`;
  return parseBundleSpec(`http://localhost/models/${name}/`, {
    config: readJson(`${dir}config.json`),
    generationConfig: readJson(`${dir}generation_config.json`),
    preprocessorConfig: readJson(`${dir}preprocessor_config.json`),
    ...(existsSync(`${dir}processor_config.json`) ? { processorConfig: readJson(`${dir}processor_config.json`) } : {}),
  });
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG: enough for the fixtures, no canvas needed. */
export function decodePng(bytes: Uint8Array): Rgba8 {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  while (offset < bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
      const colorType = body[9];
      if (body[8] !== 8 || body[12] !== 0 || (colorType !== 2 && colorType !== 6)) throw new Error('decodePng: only 8-bit RGB/RGBA');
      channels = colorType === 2 ? 3 : 4;
    } else if (type === 'IDAT') idat.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x]!;
      const left = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const upLeft = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      const predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter] ?? 0;
      pixels[y * stride + x] = (value + predictor) & 0xff;
    }
  }
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4] = pixels[i * channels]!;
    data[i * 4 + 1] = pixels[i * channels + 1]!;
    data[i * 4 + 2] = pixels[i * channels + 2]!;
    data[i * 4 + 3] = channels === 4 ? pixels[i * channels + 3]! : 255;
  }
  return { width, height, data };
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
