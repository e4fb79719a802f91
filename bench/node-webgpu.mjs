#!/usr/bin/env node
// A WebGPU measurement path without a browser: onnxruntime-web's WebGPU build in Node, on Dawn
// (the `webgpu` npm package's dawn.node), for machines that have a GPU but no browser.
//
//   npm install --no-save webgpu@0.6.2          # optional: not a dependency of the project
//   node bench/node-webgpu.mjs --bundle public/models/tiny-random-convllava --sizes 128,256 --check
//
// Options: --bundle DIR (a Loupe bundle on disk), --dtype fp32|int8|... (vision_encoder file;
// default: the bundle's declared dtype), --sizes 768,1536 (square inputs), --runs N,
// --webgpu DIR (the `webgpu` package folder; default: resolved from node_modules),
// --ort DIR (onnxruntime-web's dist folder; default: node_modules), --check (compare the
// first size against onnxruntime-node on the CPU), --backend vulkan|... (Dawn's backend).
// Prints one JSON line per measurement in `npm run bench`'s format, after the adapter's identity.
// Dawn on a headless Linux box: needs the Vulkan loader (libvulkan1) and a driver; with none,
// VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json uses Chromium's SwiftShader.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { installDawnShim } from './dawn-shim.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const bundleDir = path.resolve(option('bundle', 'public/models/tiny-random-convllava'));
const sizes = option('sizes', '768,1536').split(',').map(Number);
const runs = Number(option('runs', '3'));
const require = createRequire(import.meta.url);
const ortDir = path.resolve(option('ort', path.dirname(require.resolve('onnxruntime-web/webgpu'))));
process.env.XDG_RUNTIME_DIR ??= '/tmp';

// Dawn keeps no handle on Node's event loop while the GPU works: keep it alive until done.
const keepAlive = setInterval(() => undefined, 1000);
try {
  const webgpuDir = option('webgpu', undefined);
  let webgpu;
  try {
    webgpu = await import(webgpuDir ? pathToFileURL(path.join(path.resolve(webgpuDir), 'index.js')).href : 'webgpu');
  } catch (error) {
    throw new Error(`The \`webgpu\` package (Dawn for Node) is missing: npm install --no-save webgpu@0.6.2, or pass --webgpu DIR. (${error.message})`);
  }
  Object.assign(globalThis, webgpu.globals);
  installDawnShim(webgpu.globals);
  const backend = option('backend', undefined);
  const gpu = webgpu.create(backend ? [`backend=${backend}`] : []);
  globalThis.navigator = { gpu, hardwareConcurrency: 1, userAgent: `node ${process.version}` };
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('Dawn found no GPU adapter: is the Vulkan loader (libvulkan1) installed, and a driver for this GPU?');
  const info = adapter.info ?? {};
  const adapterInfo = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, shader_f16: adapter.features.has('shader-f16') };

  const ort = await import(pathToFileURL(path.join(ortDir, 'ort.webgpu.bundle.min.mjs')).href);
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  ort.env.webgpu.adapter = adapter;

  const config = JSON.parse(readFileSync(path.join(bundleDir, 'config.json'), 'utf8'));
  const declared = config['transformers.js_config']?.dtype;
  const dtype = option('dtype', (typeof declared === 'string' ? declared : declared?.vision_encoder) ?? 'fp32');
  const suffix = { fp32: '', fp16: '_fp16', int8: '_int8', q4: '_q4', q8: '_quantized', uint8: '_uint8' }[dtype] ?? '';
  const file = path.join(bundleDir, 'onnx', `vision_encoder${suffix}.onnx`);
  const created = performance.now();
  const session = await ort.InferenceSession.create(readFileSync(file), { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const sessionMs = performance.now() - created;
  console.log(JSON.stringify({ machine: { adapter: adapterInfo, node: process.version, dawn: 'webgpu npm package', onnxruntime_web: ort.env.versions?.web } }));
  const model = path.basename(bundleDir);
  console.log(JSON.stringify({ runtime: 'onnxruntime-web (node+dawn)', provider: 'webgpu', model, dtype, stage: 'load', ms: sessionMs, runs: 1, min: sessionMs, median: sessionMs, max: sessionMs }));
  let first;
  for (const size of sizes) {
    const input = new ort.Tensor('float32', new Float32Array(3 * size * size).fill(0.25), [1, 3, size, size]);
    const samples = [];
    let dims;
    for (let i = 0; i <= runs; i++) {
      const started = performance.now();
      const out = await session.run({ pixel_values: input });
      const features = out.image_features;
      const data = await features.getData(); // includes the read-back, as an app pays it
      const ms = performance.now() - started;
      dims = features.dims;
      if (first === undefined) first = { size, data: Float32Array.from(data) };
      if (i > 0) samples.push(ms);
    }
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)];
    console.log(JSON.stringify({ runtime: 'onnxruntime-web (node+dawn)', provider: 'webgpu', model, dtype, strategy: 'convllava-square', resolution: size, stage: 'encode', visual_tokens: dims[1], ms: median, runs: samples.length, min: samples[0], median, max: samples.at(-1) }));
  }
  await session.release();

  if (args.includes('--check') && first) {
    // The same graph and input on onnxruntime-node's CPU provider.
    const native = (await import('onnxruntime-node')).default ?? (await import('onnxruntime-node'));
    // With QDQ transforms off, onnxruntime's CPU provider computes a weight-only int8 graph
    // exactly (dequantized weights, fp32 math); its default rewrites deviate by ~1e-3 here.
    const cpu = await native.InferenceSession.create(file, { extra: { session: { disable_quant_qdq: '1' } } });
    const input = new native.Tensor('float32', new Float32Array(3 * first.size * first.size).fill(0.25), [1, 3, first.size, first.size]);
    const reference = (await cpu.run({ pixel_values: input })).image_features.data;
    let maxAbs = 0;
    let peak = 0;
    let dot = 0;
    let a2 = 0;
    let b2 = 0;
    for (let i = 0; i < reference.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(reference[i] - first.data[i]));
      peak = Math.max(peak, Math.abs(reference[i]));
      dot += reference[i] * first.data[i];
      a2 += reference[i] ** 2;
      b2 += first.data[i] ** 2;
    }
    const cosine = dot / Math.sqrt(a2 * b2);
    const ok = cosine > 0.99999 && maxAbs <= 1e-4 * Math.max(1, peak);
    console.log(JSON.stringify({ check: 'webgpu vs onnxruntime-node cpu', resolution: first.size, values: reference.length, max_abs_diff: maxAbs, max_abs_reference: peak, cosine, ok }));
    if (!ok) process.exitCode = 1;
  }
} finally {
  clearInterval(keepAlive);
}
