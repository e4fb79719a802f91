/**
 * Runs in Chromium, driven by bench/run.mjs: times each stage on the same machine and
 * returns one record per measurement. Warm-up first, then `runs` timed repetitions.
 */
import { isLoupeError, loadModel, type PlanOverrides } from '../src';
import { runScaling } from './scaling';
import { runEval, type EvalItem } from './eval-page';
import { moduleDtypes } from './module-dtypes';

export interface Measurement {
  runtime: 'loupe' | 'transformers.js';
  provider: string;
  model: string;
  /** The bundle's URL path, and the dtype each module ran in. */
  bundle: string;
  dtype: Record<string, string>;
  strategy: string;
  resolution: number | null;
  stage: 'decode' | 'preprocess' | 'encode' | 'ttft' | 'decode-tokens';
  ms: number;
  runs: number;
  min: number;
  median: number;
  max: number;
  visual_tokens: number | null;
  tokens_per_s?: number;
  image?: string;
  working_bytes?: number;
  threads: number;
  /** Which path made the tensors: 'cpu' or 'gpu' (WebGPU compute). */
  preprocessor?: string;
  /** Loupe's decode: bytes crossing between CPU and GPU per token, and for the prefill (zero on wasm). */
  transfer_bytes?: { read: number; written: number; prefill_read: number; prefill_written: number };
  /** Pixel size of the encoded input, so native runs can use the same. */
  input_width?: number;
  input_height?: number;
}

function summary(samples: number[]): { ms: number; min: number; median: number; max: number; runs: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return { ms: median, min: sorted[0]!, median, max: sorted[sorted.length - 1]!, runs: samples.length };
}

/** A photo-like 6000 x 4000 (24 MP) JPEG: gradients, noise-free shapes, text. */
async function photo24mp(): Promise<Blob> {
  const canvas = new OffscreenCanvas(6000, 4000);
  const ctx = canvas.getContext('2d')!;
  const sky = ctx.createLinearGradient(0, 0, 0, 4000);
  sky.addColorStop(0, '#6da7e0');
  sky.addColorStop(1, '#e8d7b0');
  ctx.fillStyle = sky;
  ctx.fillRect(0, 0, 6000, 4000);
  for (let i = 0; i < 400; i++) {
    ctx.fillStyle = `hsl(${(i * 37) % 360} 60% ${30 + (i % 40)}%)`;
    ctx.beginPath();
    ctx.arc((i * 7919) % 6000, (i * 104729) % 4000, 10 + (i % 120), 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.fillStyle = '#111';
  ctx.font = '48px sans-serif';
  for (let i = 0; i < 60; i++) ctx.fillText(`sign ${i}: the quick brown fox`, (i * 331) % 5000, 100 + i * 64);
  return canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
}

/** The photo squeezed to 1536 x 1536, so Loupe's pad-to-square and the peer's resize agree. */
async function square1536(jpeg: Blob): Promise<Blob> {
  const canvas = new OffscreenCanvas(1536, 1536);
  canvas.getContext('2d')!.drawImage(await createImageBitmap(jpeg), 0, 0, 1536, 1536);
  return canvas.convertToBlob({ type: 'image/png' });
}

const QUESTION = 'What is in the image?';

/**
 * One runtime alone in a fresh page: load, answer once at 1536, keep everything loaded.
 * bench/run.mjs samples the browser's memory meanwhile.
 */
export async function answerOnce(o: { bundle: string; device: 'wasm' | 'webgpu'; runtime: 'loupe' | 'transformers.js'; threads?: number; peerThreads?: number }): Promise<{ gpuBufferBytes?: number; threads: number; dtype: Record<string, string>; weightBytes?: number }> {
  const image = await square1536(await photo24mp());
  if (o.runtime === 'loupe') {
    const model = await loadModel(o.bundle, { device: o.device, cache: false, ...(o.threads !== undefined ? { threads: o.threads } : {}) });
    const chat = model.chat();
    await chat.setImage(image);
    for await (const piece of chat.ask(QUESTION, { maxNewTokens: 16, minNewTokens: 16 })) void piece;
    const dtype = moduleDtypes(model.info);
    const weightBytes = Object.values(model.info.modules).reduce((sum, m) => sum + m.bytes, 0);
    return { gpuBufferBytes: (await model.gpuMemory()).peak, threads: model.info.threads.threads, dtype, weightBytes };
  }
  const dtype = await declaredDtypes(o.bundle);
  const peer = await loadPeer(o, image, dtype);
  await peer.run();
  return { threads: peer.threads, dtype };
}

/** transformers.js on the bundle, answering QUESTION about `image` in 16 tokens. */
async function loadPeer(o: { bundle: string; device: 'wasm' | 'webgpu'; peerThreads?: number }, image: Blob, dtypes: Record<string, string>) {
  const { loadTransformersPeer } = await import('./peer-transformers');
  return loadTransformersPeer({ bundle: o.bundle, device: o.device, image, question: QUESTION, newTokens: 16, dtypes, ...(o.peerThreads !== undefined ? { threads: o.peerThreads } : {}) });
}

/** The bundle's declared dtypes (config.json transformers.js_config), which Loupe runs on wasm too. */
async function declaredDtypes(bundle: string): Promise<Record<string, string>> {
  const config = (await (await fetch(`${bundle}config.json`)).json()) as { 'transformers.js_config'?: { dtype?: string | Record<string, string> } };
  const declared = config['transformers.js_config']?.dtype ?? 'fp32';
  return typeof declared === 'string' ? { vision_encoder: declared, embed_tokens: declared, decoder_model_merged: declared } : declared;
}

export interface LoadSample {
  loadMs: number;
  threads: number;
  provider: string;
  dtype: Record<string, string>;
  /** Loupe only: where the time went (ms from the start of loadModel). */
  breakdown?: Record<string, number>;
  workers?: number;
}

/**
 * One load of one runtime in this page, timed as an app sees it; run.mjs calls it in a fresh
 * browser context (cold: nothing cached) and then in a new page of that context (warm: a later
 * visit, with the HTTP cache, compiled wasm and the runtimes' own model caches in place).
 */
export async function loadOnce(o: { bundle: string; device: 'wasm' | 'webgpu'; runtime: 'loupe' | 'transformers.js'; threads?: number; peerThreads?: number }): Promise<LoadSample> {
  if (o.runtime === 'loupe') {
    const model = await loadModel(o.bundle, { device: o.device, cache: true, ...(o.threads !== undefined ? { threads: o.threads } : {}) });
    const { loadMs, loadTimings: t, modules, threads, workers } = model.info;
    const breakdown: Record<string, number> = { config: t.configMs, worker_ready: t.vision.readyMs, runtime_start: t.vision.runtimeMs };
    if (workers === 2) breakdown.language_runtime_start = t.language.runtimeMs;
    for (const m of Object.values(modules)) {
      breakdown[`${m.module}_fetch`] = m.fetchMs ?? 0;
      breakdown[`${m.module}_session`] = m.sessionMs;
      if (m.unpackedWeights) breakdown[`${m.module}_unpack`] = m.unpackedWeights.ms;
    }
    const dtype = Object.fromEntries(Object.values(modules).map((m) => [m.module, m.dtype]));
    await model.dispose();
    return { loadMs, threads: threads.threads, provider: modules.vision_encoder.provider, dtype, breakdown, workers };
  }
  // Only load is timed here; the peer needs an image argument, never used.
  const image = new Blob([], { type: 'image/png' });
  const dtype = await declaredDtypes(o.bundle);
  const peer = await loadPeer(o, image, dtype);
  await peer.dispose();
  return { loadMs: peer.loadMs, threads: peer.threads, provider: o.device, dtype };
}

const STRATEGIES: { name: string; overrides: PlanOverrides; resolution: number | null }[] = [
  { name: 'convllava-square', overrides: { strategy: 'convllava-square', resolution: 768 }, resolution: 768 },
  { name: 'convllava-square', overrides: { strategy: 'convllava-square', resolution: 1536 }, resolution: 1536 },
  { name: 'convllava-native', overrides: { strategy: 'convllava-native', tokenBudget: 576 }, resolution: null },
  { name: 'multicrop', overrides: { strategy: 'multicrop', maxCrops: 16, numTokens: 728 }, resolution: 384 },
  { name: 'pyramid', overrides: { strategy: 'pyramid', resolution: 1024, lowResolution: 448 }, resolution: 1024 },
  { name: 'tiles', overrides: { strategy: 'tiles', tileSize: 384, maxTiles: 4 }, resolution: 384 },
];

export async function runBench(options: {
  bundle: string;
  device: 'wasm' | 'webgpu';
  runs: number;
  preprocessor: 'auto' | 'cpu' | 'gpu';
  /** wasm threads (default: what the page allows). */
  threads?: number;
  /** The peer's wasm threads (default: its own default). */
  peerThreads?: number;
  /** Also run transformers.js on the same bundle (needs the bundle's fp32 files). */
  peers: boolean;
}): Promise<Measurement[]> {
  const out: Measurement[] = [];
  // The bundle's own dtypes (config.json transformers.js_config), as an app would load it.
  const loadOptions = {
    device: options.device,
    cache: true,
    preprocessor: options.preprocessor,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  };
  // Load times are measured by run.mjs (loadOnce, in fresh contexts); this load is for the stages.
  const model = await loadModel(options.bundle, loadOptions);
  const threads = model.info.threads.threads;
  const provider = model.info.modules.vision_encoder.provider;
  const preprocessPath = model.info.preprocessor?.path ?? 'cpu';
  const name = options.bundle.split('/').filter(Boolean).pop() ?? options.bundle;
  const dtypes = moduleDtypes(model.info);
  const base = { runtime: 'loupe' as const, provider, model: name, bundle: options.bundle, dtype: dtypes, threads };
  const jpeg = await photo24mp();
  for (const s of STRATEGIES) {
    const decode: number[] = [];
    const preprocess: number[] = [];
    let tokens = 0;
    let working = 0;
    for (let i = 0; i <= options.runs; i++) {
      const rendered = await model.render(jpeg, s.overrides);
      if (i === 0) continue;
      decode.push(rendered.decodeMs);
      preprocess.push(rendered.preprocessMs);
      tokens = rendered.plan.totalTokens;
      working = rendered.workingBytes;
    }
    const common = { ...base, strategy: s.name, resolution: s.resolution, visual_tokens: tokens, image: '6000x4000 JPEG', working_bytes: working };
    out.push({ ...common, stage: 'decode', ...summary(decode) });
    out.push({ ...common, stage: 'preprocess', preprocessor: preprocessPath, ...summary(preprocess) });
  }
  // The encoder on the same machine, for scale (only strategies this bundle's graph takes).
  for (const s of STRATEGIES.filter((x) => x.name.startsWith('convllava') || x.name === 'tiles')) {
    const encode: number[] = [];
    let tokens = 0;
    let size: [number, number] = [0, 0];
    let fits = true;
    for (let i = 0; i <= options.runs && fits; i++) {
      const chat = model.chat();
      const summaryOf = await chat.setImage(jpeg, s.overrides).catch((error: unknown) => {
        // More visual tokens than the model's context holds (the tiny test bundle at 1536): not timed.
        if (isLoupeError(error, 'INVALID_ARGUMENT') && error.details.contextLength !== undefined) return undefined;
        throw error;
      });
      chat.close();
      if (!summaryOf) fits = false;
      if (i === 0 || !summaryOf) continue;
      encode.push(summaryOf.encodeMs);
      tokens = summaryOf.visualTokens;
      const first = summaryOf.plan.inputs[0]!;
      size = [first.window?.width ?? first.width, first.window?.height ?? first.height];
    }
    if (fits) out.push({ ...base, strategy: s.name, resolution: s.resolution, visual_tokens: tokens, stage: 'encode', input_width: size[0], input_height: size[1], ...summary(encode) });
  }
  // Time to first token and decode speed on the bundle's own resolution, Loupe and the peer in turns.
  const question = QUESTION;
  // A square image, so Loupe's pad-to-square and the peer's shortest-edge resize give the same S x S input.
  const small = await square1536(jpeg);
  const loupeAnswer = async (tokens = 16) => {
    const chat = model.chat();
    const started = performance.now();
    await chat.setImage(small);
    const encoded = performance.now();
    for await (const piece of chat.ask(question, { maxNewTokens: tokens, minNewTokens: tokens })) void piece;
    chat.close();
    return { ttftMs: encoded - started + chat.stats!.timeToFirstTokenMs, tokensPerSecond: chat.stats!.decodeTokensPerSecond, transfer: chat.stats!.transferBytes };
  };
  // Bytes crossing CPU <-> GPU per decoded token: a 16-token answer less a 1-token one, over 15.
  const [one, sixteen] = [await loupeAnswer(1), await loupeAnswer(16)];
  const perToken = (key: 'logitsRead' | 'embedsRead' | 'written') => (sixteen.transfer[key] - one.transfer[key]) / 15;
  const transferPerToken = { read: perToken('logitsRead') + perToken('embedsRead'), written: perToken('written'), prefill_read: one.transfer.logitsRead + one.transfer.embedsRead, prefill_written: one.transfer.written };
  const ttft: number[] = [];
  const rates: number[] = [];
  const answerRecords = (runtime: Measurement['runtime'], runThreads: number, ttftSamples: number[], rateSamples: number[]): Measurement[] => {
    const rate = summary(rateSamples);
    const common = { runtime, provider, model: name, bundle: options.bundle, dtype: dtypes, strategy: 'bundle default', resolution: null, visual_tokens: null, threads: runThreads };
    return [
      { ...common, stage: 'ttft', ...summary(ttftSamples) },
      { ...common, stage: 'decode-tokens', ...rate, tokens_per_s: rate.median, ...(runtime === 'loupe' ? { transfer_bytes: transferPerToken } : {}) },
    ];
  };
  if (!options.peers) {
    for (let i = 0; i < options.runs; i++) {
      const r = await loupeAnswer();
      ttft.push(r.ttftMs);
      rates.push(r.tokensPerSecond);
    }
    out.push(...answerRecords('loupe', threads, ttft, rates));
    await model.dispose();
    return out;
  }
  // The peer, loaded next to Loupe; then the two answer in turns, so drift in the machine's
  // speed during the run hits both alike.
  const peer = await loadPeer(options, small, dtypes);
  const peerBase = { runtime: 'transformers.js' as const, provider: options.device, model: name, bundle: options.bundle, dtype: dtypes, resolution: null, threads: peer.threads };
  const peerTtft: number[] = [];
  const peerRates: number[] = [];
  const peerPreprocess: number[] = [];
  let peerTokens = 0;
  await peer.run(); // its warm-up
  for (let i = 0; i < options.runs; i++) {
    const own = await loupeAnswer();
    ttft.push(own.ttftMs);
    rates.push(own.tokensPerSecond);
    const other = await peer.run();
    peerTtft.push(other.ttftMs);
    peerRates.push(other.tokensPerSecond);
    peerPreprocess.push(other.preprocessMs);
    peerTokens = other.visualTokens;
  }
  out.push(...answerRecords('loupe', threads, ttft, rates));
  out.push({ ...peerBase, strategy: 'bundle default', visual_tokens: peerTokens, stage: 'preprocess', ...summary(peerPreprocess) });
  out.push(...answerRecords('transformers.js', peer.threads, peerTtft, peerRates).map((r) => ({ ...r, visual_tokens: peerTokens })));
  await model.dispose();
  await peer.dispose();
  return out;
}

declare global {
  interface Window {
    runBench: typeof runBench;
    runScaling: typeof runScaling;
    answerOnce: typeof answerOnce;
    loadOnce: typeof loadOnce;
    runEval: typeof runEval;
    /** Exposed by bench/eval.mjs: receives each scored item. */
    loupeEvalItem?: (item: EvalItem) => Promise<void>;
  }
}
window.runBench = runBench;
window.runScaling = runScaling;
window.answerOnce = answerOnce;
window.loadOnce = loadOnce;
window.runEval = runEval;
document.querySelector('#status')!.textContent = 'ready';
