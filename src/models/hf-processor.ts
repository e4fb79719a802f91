import { defaultImageConfig, type LoupeImageConfig, type StrategyName } from '../bundle/image-config';
import { integer, invalid, numbers3, object, type Json } from '../bundle/json';
import type { FamilyFiles } from './family';

const FILE = 'preprocessor_config.json';

/** `size` / `crop_size` as HF writes them: an integer, {height, width} or {shortest_edge}. */
function square(value: unknown, path: string): { side?: number; shortest?: number } {
  if (value === undefined) return {};
  if (typeof value === 'number' && Number.isInteger(value)) return { side: value };
  const json = object(value, FILE, path);
  if (typeof json.shortest_edge === 'number') return { shortest: json.shortest_edge };
  const height = integer(json, 'height', FILE);
  const width = integer(json, 'width', FILE, height);
  if (width !== height) throw invalid(FILE, `${path}.width`, `equal to ${path}.height (Loupe plans square inputs for fixed-size encoders)`, width);
  return { side: height };
}

function filterOf(resample: unknown): 'bicubic' | 'bilinear' {
  if (resample === undefined || resample === 3) return 'bicubic';
  if (resample === 2) return 'bilinear';
  throw invalid(FILE, 'resample', '3 (bicubic) or 2 (bilinear), the filters Loupe reproduces exactly', resample);
}

/**
 * The fixed-size Hugging Face image processors (CLIPImageProcessor, SiglipImageProcessor)
 * as a plan: resize the shortest edge then centre-crop when `do_center_crop`, otherwise
 * stretch to `size`; LlavaImageProcessor's `do_pad` pads to a square with the mean colour
 * first. One token per `patch` x `patch` cell (rounded down, as LlavaProcessor
 * counts) plus `extraTokens`.
 */
export function hfImageConfig(files: FamilyFiles, patch: number, extraTokens: number, fixedSize: boolean): LoupeImageConfig {
  const p = files.preprocessor;
  const size = square(p.size, 'size');
  const crop = square(p.crop_size, 'crop_size');
  const centerCrop = p.do_center_crop === true;
  // LlavaImageProcessor's do_pad (expand to a square with the mean colour). config.json's
  // image_aspect_ratio is the original training code's setting, which the HF processor
  // files supersede: FastVLM's says "pad" while its processor centre-crops.
  const pad = p.do_pad === true || p.image_aspect_ratio === 'pad';
  const resolution = (centerCrop ? crop.side : undefined) ?? size.side ?? size.shortest ?? crop.side;
  if (resolution === undefined) throw invalid(FILE, 'size', 'a size (integer, {height, width} or {shortest_edge})', p.size);
  const strategy: StrategyName = pad ? 'pad-square' : centerCrop ? 'center-crop' : 'stretch';
  const mean = numbers3(p.image_mean, FILE, 'image_mean', [0.5, 0.5, 0.5]);
  return {
    ...defaultImageConfig(resolution, patch),
    strategy,
    // LLaVA's expand2square fills with tuple(int(x * 255) for x in image_mean).
    padColor: mean.map((m) => Math.trunc(m * 255)) as [number, number, number],
    shortestEdge: size.shortest ?? resolution,
    extraTokens,
    filter: filterOf(p.resample),
    fixedSize,
  };
}

/** LlavaProcessor's `patch_size` and `num_additional_image_tokens` (processor_config.json). */
export function processorTokens(processor: Json, fallbackPatch: number): { patch: number; extra: number } {
  return {
    patch: integer(processor, 'patch_size', 'processor_config.json', fallbackPatch),
    extra: integer(processor, 'num_additional_image_tokens', 'processor_config.json', 0),
  };
}

/** The image placeholder: processor_config.json's `image_token`, else LLaVA's `<image>`. */
export function placeholder(files: FamilyFiles): string {
  const token = files.processor.image_token;
  return typeof token === 'string' && token.length > 0 ? token : '<image>';
}
