import type { ImageProcessorSpec } from '../bundle';
import { LoupeError } from '../errors';
import { outputSize, type ImagePlan } from '../plan';
import { renderInput, type RenderedInput } from './render-input';
import type { PlannedInput } from '../plan';
import type { PixelSource } from './source';
import { bilinearResizeChw } from './torch-bilinear';

/** Packed RGB bytes -> normalised NCHW float32, written at `offset` of `out`. */
export function normalizeToChw(rgb: Uint8Array, pixels: number, spec: Pick<ImageProcessorSpec, 'mean' | 'std' | 'rescaleFactor'>, out: Float32Array, offset = 0): void {
  for (let c = 0; c < 3; c++) {
    const scale = spec.rescaleFactor / spec.std[c]!;
    const shift = spec.mean[c]! / spec.std[c]!;
    const base = offset + c * pixels;
    for (let i = 0; i < pixels; i++) out[base + i] = rgb[i * 3 + c]! * scale - shift;
  }
}

export interface PlanPixels {
  /** Per input: the 8-bit RGB the model sees (empty for derived inputs), for parity and preview. */
  rgb: (Uint8Array | undefined)[];
  /** Per input: normalised NCHW float32 [3, H, W]. */
  tensors: Float32Array[];
  /** Peak bytes held besides the decoded image and the outputs. */
  workingBytes: number;
}

/** Renders one planned input to 8-bit RGB: the CPU renderer, or an async one (WebGPU). */
export type InputRenderer = (source: PixelSource, input: PlannedInput) => RenderedInput | Promise<RenderedInput>;

/** Executes a whole plan on the CPU: image inputs from the source, derived inputs from their parents. */
export function renderPlan(source: PixelSource, plan: ImagePlan, spec: NormalizeSpec, signal?: AbortSignal): PlanPixels {
  const out = emptyPixels(source);
  plan.inputs.forEach((input, index) => {
    checkAborted(signal);
    addInput(out, plan, index, input.derivedFrom === undefined ? renderInput(source, input) : undefined, spec, source);
  });
  return out;
}

/** The same with any renderer, e.g. the WebGPU one; identical bytes by construction. */
export async function renderPlanWith(render: InputRenderer, source: PixelSource, plan: ImagePlan, spec: NormalizeSpec, signal?: AbortSignal): Promise<PlanPixels> {
  const out = emptyPixels(source);
  for (const [index, input] of plan.inputs.entries()) {
    checkAborted(signal);
    addInput(out, plan, index, input.derivedFrom === undefined ? await render(source, input) : undefined, spec, source);
  }
  return out;
}

type NormalizeSpec = Pick<ImageProcessorSpec, 'mean' | 'std' | 'rescaleFactor'>;

function emptyPixels(source: PixelSource): PlanPixels {
  return { rgb: [], tensors: [], workingBytes: source.workingBytes };
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LoupeError('ABORTED', 'Preprocessing was cancelled by its AbortSignal; the engine is still usable.');
}

function addInput(out: PlanPixels, plan: ImagePlan, index: number, rendered: RenderedInput | undefined, spec: NormalizeSpec, source: PixelSource): void {
  const { rgb, tensors } = out;
  const input = plan.inputs[index]!;
  const size = outputSize(input);
  if (input.derivedFrom !== undefined) {
    const parent = plan.inputs[input.derivedFrom];
    const parentTensor = tensors[input.derivedFrom];
    if (!parent || !parentTensor) throw new LoupeError('INTERNAL', `Plan input ${index} derives from a missing input ${input.derivedFrom}.`);
    const from = outputSize(parent);
    rgb.push(undefined);
    tensors.push(bilinearResizeChw(parentTensor, 3, from.height, from.width, size.height, size.width));
    return;
  }
  if (!rendered) throw new LoupeError('INTERNAL', `Plan input ${index} was not rendered.`);
  out.workingBytes = Math.max(out.workingBytes, source.workingBytes + rendered.workingBytes);
  const tensor = new Float32Array(3 * size.width * size.height);
  normalizeToChw(rendered.rgb, size.width * size.height, spec, tensor);
  rgb.push(rendered.rgb);
  tensors.push(tensor);
}
