/**
 * transformers.js v4 in Chromium, for the family parity tests: its own processor (tokeniser,
 * chat expansion, image processor) and its generation loop, on wasm or WebGPU, with the same
 * local onnxruntime-web wasm Loupe uses and no hub access.
 */
import { AutoModelForImageTextToText, AutoProcessor, RawImage, Tensor, env } from '@huggingface/transformers';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';

export interface PeerResult {
  inputIds: number[];
  pixels: number[];
  pixelDims: readonly number[];
  /** Greedy tokens per dtype, from the reference pixel_values. */
  tokens: Record<string, number[]>;
}

async function run(o: { name: string; image: string; prompt: string; pixels: string; device: 'wasm' | 'webgpu'; dtypes: string[] }): Promise<PeerResult> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = '/models/';
  env.useWasmCache = false;
  const onnx = env.backends.onnx as { wasm?: { wasmPaths?: unknown } };
  if (onnx.wasm) onnx.wasm.wasmPaths = { wasm: new URL(ortWasmUrl, location.href).href };
  const processor = await AutoProcessor.from_pretrained(o.name);
  const image = await RawImage.fromURL(new URL(o.image, location.href).href);
  const inputs = (await processor(image, o.prompt)) as { input_ids: Tensor; attention_mask: Tensor; pixel_values: Tensor };
  const reference = new Float32Array(await (await fetch(o.pixels)).arrayBuffer());
  const tokens: Record<string, number[]> = {};
  for (const dtype of o.dtypes) {
    const model = await AutoModelForImageTextToText.from_pretrained(o.name, { device: o.device, dtype } as never);
    const output = (await model.generate({
      input_ids: inputs.input_ids,
      attention_mask: inputs.attention_mask,
      pixel_values: new Tensor('float32', reference, inputs.pixel_values.dims as number[]),
      max_new_tokens: 16,
      do_sample: false,
    } as never)) as Tensor;
    tokens[dtype] = Array.from(output.data as BigInt64Array, Number).slice(inputs.input_ids.dims[1]);
    await model.dispose();
  }
  return {
    inputIds: Array.from(inputs.input_ids.data as BigInt64Array, Number),
    pixels: Array.from(inputs.pixel_values.data as Float32Array),
    pixelDims: inputs.pixel_values.dims,
    tokens,
  };
}

declare global {
  interface Window {
    peer: { run: typeof run };
  }
}

window.peer = { run };
document.querySelector('#status')!.textContent = 'ready';
