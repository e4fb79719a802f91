#!/usr/bin/env node
// `npm run bench`: builds bench/bench.html for production and serves it (--dev: Vite's dev
// server), drives Debian's Chromium over it, prints one JSON line per measurement and a table
// (--json: the JSON lines only), and checks that every stage has its records. Options:
// --device wasm|webgpu, --runs N, --bundle URL (default: the shipped Loupe-Synth),
// --preprocessor auto|cpu|gpu, --threads N (wasm threads; default: what the page allows),
// --peer-threads N (transformers.js' threads; default: its own), --no-peers, --scaling, --dev.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { benchNativeEncoder, timeNativeGraph } from './native.mjs';
import { flag, option, startBench } from './harness.mjs';
import { chartFromJsonl } from './chart.mjs';
import { chromiumPss, startMemorySampler } from './memory.mjs';
import { checkRecords, loadRecords } from './records.mjs';

const device = option('device', 'wasm');
const runs = Number(option('runs', '3'));
const bundle = option('bundle', '/models/loupe-synth/');
const jsonOnly = flag('json');
const preprocessor = option('preprocessor', 'auto');
const peers = !flag('no-peers');
const threadsOption = option('threads', undefined);
const peerThreads = option('peer-threads', undefined);
/** The thread options every page call takes. */
const threadOptions = { ...(threadsOption ? { threads: Number(threadsOption) } : {}), ...(peerThreads ? { peerThreads: Number(peerThreads) } : {}) };

const bench = await startBench();
const { browser } = bench;
try {
  const page = await bench.openPage();
  const isolated = await page.evaluate(() => self.crossOriginIsolated);
  const machine = { cross_origin_isolated: isolated, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), browser: browser.version(), node: process.version, served: bench.served };
  if (flag('scaling')) await scaling(page, machine);
  else {
    await page.close();
    const results = await loads(browser);
    const stagesPage = await bench.openPage();
    results.push(...(await stages(stagesPage)));
    await stagesPage.close();
    results.push(...(await memory(browser)));
    print(machine, results);
    const problems = checkRecords(results, { peers, memory: results.some((r) => r.stage === 'memory') });
    if (problems.length) {
      console.error(`\nbench: records missing or malformed:\n- ${problems.join('\n- ')}`);
      process.exitCode = 1;
    }
  }
} finally {
  await bench.close();
}

/**
 * Load time, each runtime in turn: cold in a fresh browser context (its own HTTP cache, Cache
 * Storage and compiled-wasm cache: nothing cached), then warm in a new page of that context
 * (a later visit). Fresh contexts keep one runtime's warm caches from helping the other.
 */
async function loads(browser) {
  const runtimes = peers ? ['loupe', 'transformers.js'] : ['loupe'];
  const samples = [];
  for (let i = 0; i < runs; i++) {
    for (const runtime of runtimes) {
      const context = await browser.newContext();
      for (const visit of ['cold', 'warm']) {
        const page = await bench.openPage(context);
        const sample = await page.evaluate((o) => window.loadOnce(o), { bundle, device, runtime, ...threadOptions });
        samples.push({ runtime, visit, ...sample });
        await page.close();
      }
      await context.close();
    }
  }
  return loadRecords(samples, { bundle, model: bundle.split('/').filter(Boolean).pop() });
}

/** Every stage of Loupe, transformers.js on the same bundle, and onnxruntime-node. */
async function stages(page) {
  const results = await page.evaluate((o) => window.runBench(o), { bundle, device, runs, preprocessor, peers, ...threadOptions });
  // The same vision graph natively, at the sizes the browser encoded, one thread and all cores.
  const bundleDir = fileURLToPath(new URL(`..${bundle.startsWith('/bench/') ? '' : '/public'}${bundle}`, import.meta.url));
  const model = bundle.split('/').filter(Boolean).pop();
  const sizes = results
    .filter((r) => r.stage === 'encode' && r.strategy.startsWith('convllava'))
    .map((r) => ({ strategy: r.strategy, resolution: r.resolution, width: r.input_width, height: r.input_height }));
  for (const threads of [1, os.cpus().length]) results.push(...(await benchNativeEncoder({ bundleDir, bundle, model, sizes, runs, threads })));
  return results;
}

/**
 * Each runtime alone in a fresh browser context (its own renderer process): load, answer once
 * at 1536, and the peak memory of all Chromium processes meanwhile, against the idle browser.
 */
async function memory(browser) {
  const out = [];
  const runtimes = peers ? ['loupe', 'transformers.js'] : ['loupe'];
  for (const runtime of runtimes) {
    const context = await browser.newContext();
    const page = await bench.openPage(context);
    const idleSample = chromiumPss();
    const idle = idleSample.total;
    const sampler = startMemorySampler();
    if (!sampler.available) {
      await context.close();
      break;
    }
    const answered = await page.evaluate((o) => window.answerOnce(o), { bundle, device, runtime, ...threadOptions });
    const peak = sampler.stop();
    await context.close();
    out.push({
      runtime, provider: device, model: bundle.split('/').filter(Boolean).pop(), bundle, threads: answered.threads, dtype: answered.dtype, strategy: 'alone: load + one answer at 1536', resolution: 1536, visual_tokens: null, stage: 'memory',
      bytes: peak - idle, peak_bytes: peak, idle_bytes: idle, by_process: byProcess(sampler.byType, idleSample.byType), ...(answered.weightBytes ? { graph_bytes: answered.weightBytes } : {}), ...(answered.gpuBufferBytes !== undefined ? { gpu_buffer_bytes: answered.gpuBufferBytes } : {}), note: 'peak PSS of all Chromium processes minus the idle bench page', ms: 0, runs: 1, min: 0, median: 0, max: 0,
    });
  }
  return out;
}

/** Peak minus idle PSS per process type (renderer: the page, its workers and wasm heaps; gpu-process; browser). */
function byProcess(peak, idle) {
  return Object.fromEntries(Object.keys(peak).map((type) => [type, peak[type] - (idle[type] ?? 0)]));
}

function print(machine, results) {
  console.log(JSON.stringify({ machine }));
  for (const r of results) console.log(JSON.stringify(r));
  if (jsonOnly) return;
  console.log('\nruntime                  stage       strategy           res    tokens      median    (min..max)');
  for (const r of results) {
    const runtime = `${r.runtime}/${r.stage === 'preprocess' && r.preprocessor ? r.preprocessor : r.provider}${r.threads ? ` x${r.threads}` : ''}`;
    const value =
      r.bytes !== undefined
        ? `${(r.bytes / 2 ** 20).toFixed(1).padStart(9)} MiB${r.gpu_buffer_bytes ? ` (GPU buffers, peak: ${(r.gpu_buffer_bytes / 2 ** 20).toFixed(1)} MiB)` : ''}`
        : `${r.median.toFixed(1).padStart(9)}${r.tokens_per_s !== undefined ? ' tok/s' : ' ms   '} (${r.min.toFixed(1)}..${r.max.toFixed(1)})`;
    console.log(`${runtime.padEnd(24)} ${r.stage.padEnd(11)} ${r.strategy.padEnd(18)} ${String(r.resolution ?? '-').padEnd(6)} ${String(r.visual_tokens ?? '-').padEnd(8)} ${value}`);
    if (r.by_process) console.log(`${''.padEnd(24)}   by process (peak minus idle): ${Object.entries(r.by_process).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(0)} MiB`).join(', ')}`);
    if (r.transfer_bytes && r.provider === 'webgpu') console.log(`${''.padEnd(24)}   CPU<->GPU per decoded token: ${r.transfer_bytes.read.toFixed(0)} B read, ${r.transfer_bytes.written.toFixed(0)} B written (prefill: ${r.transfer_bytes.prefill_read} B read, ${r.transfer_bytes.prefill_written} B written)`);
    if (r.breakdown) console.log(`${''.padEnd(24)}   where (median ms from loadModel's start): ${Object.entries(r.breakdown).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
  }
}

/** Encode time against input size, ConvNeXt vs ViT (graphs from training/make_scaling_graphs.py). */
async function scaling(page, machine) {
  const dir = new URL('./models/scaling/', import.meta.url);
  let meta;
  try {
    meta = JSON.parse(readFileSync(new URL('scaling.json', dir), 'utf8'));
  } catch {
    throw new Error('bench/models/scaling/ is missing: run `npm run bench:model` first (it makes the two graphs).');
  }
  const threads = Number(threadsOption ?? (machine.cross_origin_isolated ? Math.min(4, os.cpus().length) : 1));
  const budgetMs = Number(option('budget-ms', '30000'));
  const points = await page.evaluate((o) => window.runScaling(o), { base: '/bench/models/scaling/', runs, threads, budgetMs });
  // The same graphs natively (onnxruntime-node, CPU), at the sizes the browser tried: the ceiling for wasm.
  const native = [];
  for (const graph of ['convnext', 'vit']) {
    const sizes = points.filter((p) => p.graph === graph).map((p) => ({ width: p.size, height: p.size }));
    for (const t of [...new Set([1, os.cpus().length])]) {
      const timed = await timeNativeGraph({ file: fileURLToPath(new URL(meta[graph].file, dir)), output: 'features', sizes, runs, threads: t });
      for (const r of timed) native.push({ ...r, graph, threads: t, size: r.size.width });
    }
  }
  const record = (runtime, provider, p) =>
    JSON.stringify({
      runtime, provider, threads: p.threads, model: `${p.graph} (${(meta[p.graph].parameters / 1e6).toFixed(1)} M params, fp32)`, strategy: 'square',
      resolution: p.size, stage: 'encode', visual_tokens: p.tokens, megapixels: +((p.size * p.size) / 1e6).toFixed(3),
      ...(p.error ? { error: p.error } : { ms: p.median, runs: p.runs, min: p.min, median: p.median, max: p.max }),
    });
  const lines = [JSON.stringify({ machine }), ...points.map((p) => record('onnxruntime-web', 'wasm', p)), ...native.map((p) => record('onnxruntime-node', 'cpu', p))];
  for (const line of lines) console.log(line);
  const out = new URL('./results/', import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(new URL('scaling.jsonl', out), `${lines.join('\n')}\n`);
  const svg = chartFromJsonl(lines.join('\n'));
  writeFileSync(new URL('scaling.svg', out), svg);
  console.log('\nruntime              graph      size   tokens   median ms   ms per megapixel');
  const rows = [...points.map((p) => ({ ...p, runtime: `wasm x${p.threads}` })), ...native.map((p) => ({ ...p, runtime: `native x${p.threads}` }))];
  for (const p of rows) {
    const perMp = p.median / ((p.size * p.size) / 1e6);
    console.log(`${p.runtime.padEnd(20)} ${p.graph.padEnd(10)} ${String(p.size).padEnd(6)} ${String(p.tokens).padEnd(8)} ${p.error ? `failed: ${p.error}` : `${p.median.toFixed(0).padStart(9)}   ${perMp.toFixed(0).padStart(8)}`}`);
  }
  console.log('\nwrote bench/results/scaling.jsonl and bench/results/scaling.svg');
}
