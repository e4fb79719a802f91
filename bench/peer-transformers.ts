/**
 * The transformers.js v4 peer, on the same bundle, image and question, in the same page:
 * its own image processor, tokenizer and LLaVA generation loop (main thread, as an app
 * without its own worker runs it). bench-page.ts alternates its answers with Loupe's, so a
 * machine whose speed drifts during the run affects both alike.
 */
import { AutoImageProcessor, AutoTokenizer, env, LlavaForConditionalGeneration, RawImage, Tensor } from '@huggingface/transformers';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';

export interface PeerOptions {
  bundle: string;
  device: 'wasm' | 'webgpu';
  image: Blob;
  question: string;
  newTokens: number;
  /** wasm threads; default: what transformers.js picks by itself (onnxruntime-web's default). */
  threads?: number;
  /** The dtype per module Loupe ran, so both run the same files. */
  dtypes: Record<string, string>;
}

export interface PeerRun {
  preprocessMs: number;
  ttftMs: number;
  tokensPerSecond: number;
  visualTokens: number;
}

export interface Peer {
  loadMs: number;
  threads: number;
  /** One answer: preprocessing, time to first token, decode rate. */
  run(): Promise<PeerRun>;
  dispose(): Promise<void>;
}

export async function loadTransformersPeer(o: PeerOptions): Promise<Peer> {
  const parts = o.bundle.split('/').filter(Boolean);
  const name = parts.pop()!;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `/${parts.join('/')}/`;
  env.useWasmCache = false;
  // No CDN: the same local onnxruntime-web wasm Loupe uses.
  const onnx = env.backends.onnx as { wasm?: { wasmPaths?: unknown; numThreads?: number } };
  if (onnx.wasm) {
    onnx.wasm.wasmPaths = { wasm: new URL(ortWasmUrl, location.href).href };
    if (o.threads !== undefined) onnx.wasm.numThreads = o.threads;
  }

  const loadStarted = performance.now();
  const [model, tokenizer, processor] = await Promise.all([
    LlavaForConditionalGeneration.from_pretrained(name, { device: o.device, dtype: o.dtypes } as never),
    AutoTokenizer.from_pretrained(name),
    AutoImageProcessor.from_pretrained(name),
  ]);
  const loadMs = performance.now() - loadStarted;
  // onnxruntime-web writes the thread count it resolved back into env.
  const threads = onnx.wasm?.numThreads ?? 1;
  const config = model.config as unknown as { image_token_index: number };

  const run = async (): Promise<PeerRun> => {
    const started = performance.now();
    const image = await RawImage.fromBlob(o.image);
    const { pixel_values } = (await processor(image)) as { pixel_values: Tensor };
    const prepared = performance.now();
    const text = tokenizer.apply_chat_template([{ role: 'user', content: `<image>\n${o.question}` }], { tokenize: false, add_generation_prompt: true }) as string;
    const prompt = (tokenizer.encode(text, { add_special_tokens: false }) as number[]).map(Number);
    const [, , h = 0, w = 0] = pixel_values.dims;
    const visualTokens = Math.floor(h / 64) * Math.floor(w / 64);
    const ids = prompt.flatMap((id) => (id === config.image_token_index ? new Array<number>(visualTokens).fill(id) : [id]));
    const inputs = {
      input_ids: new Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [1, ids.length]),
      attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      pixel_values,
      do_sample: false,
    };
    await model.generate({ ...inputs, max_new_tokens: 1 } as never);
    const first = performance.now();
    const full = performance.now();
    await model.generate({ ...inputs, max_new_tokens: o.newTokens, min_new_tokens: o.newTokens } as never);
    const fullMs = performance.now() - full;
    // Decode rate from the full run minus one first-token run (the prompt is prefilled in both).
    const tokensPerSecond = ((o.newTokens - 1) * 1000) / Math.max(fullMs - (first - prepared), 1);
    return { preprocessMs: prepared - started, ttftMs: first - started, tokensPerSecond, visualTokens };
  };
  return { loadMs, threads, run, dispose: async () => void (await model.dispose()) };
}
