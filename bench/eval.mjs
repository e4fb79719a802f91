#!/usr/bin/env node
// `npm run eval`: a held-out Loupe-Synth split through Loupe in headless Chromium, scored like
// training/vlm/evaluate.py scores PyTorch, printed as the same JSON lines:
//   {"model","strategy","resolution","split","type","n","accuracy"} per question type, then a
//   summary line per (model, strategy, resolution).
// Options: --bundle URL (default /models/loupe-synth/), --split test-small-detail|test-large|val,
// --limit N (scenes; default: the whole split), --data DIR (instead of --split: a directory in the
// generator's output format), --resolution 768,1536,native (an MC-LLaVA bundle: max_crops x num_tokens
// as mc4x144,mc16x576; a PIIP bundle: pyramid1536; the ViT control's: vit336), --device wasm|webgpu,
// --token-budget 576, --dtype D, --out FILE (also writes FILE.items.jsonl; keeps each item in
// FILE.partial.jsonl as it is scored, so a stopped run started again resumes), --compare PYTORCH.items.jsonl
// (item by item against `python -m training.vlm.evaluate --out ...`), --from-items FILE.items.jsonl
// (with --compare: compare an earlier run's items instead of running one; the lines go to --out).
// The split is generated on first use into bench/eval-data/ (PNG, so the pixels are the ones
// PyTorch sees; needs Debian's python3-pil and fonts-dejavu-core).
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { option, startBench } from './harness.mjs';

const bundle = option('bundle', '/models/loupe-synth/');
const split = option('split', 'test-small-detail');
const limit = option('limit', undefined);
const resolutions = option('resolution', '768,1536,native').split(',');
const device = option('device', 'wasm');
const tokenBudget = Number(option('token-budget', '576'));
const out = option('out', undefined);
const compare = option('compare', undefined);
const fromItems = option('from-items', undefined);
if (fromItems && !compare) throw new Error('--from-items needs --compare PYTORCH.items.jsonl (it compares an earlier run, it does not score one)');
// --dtype fp32, or per module: vision_encoder=fp32,decoder_model_merged=q4 (default: the bundle's)
const dtypeOption = option('dtype', undefined);
// --zoom off,auto (each a run; 'auto:keepGlobal=false,minSide=0.5,mass=0.5' tunes it): issue #16's look-closer pass.
const zooms = option('zoom', 'off').split(/;/);
const dtype = dtypeOption?.includes('=') ? Object.fromEntries(dtypeOption.split(',').map((pair) => pair.split('='))) : dtypeOption;

// --data DIR: any directory in the generator's output format (questions.jsonl + images),
// e.g. scenes from seeds never used (`python -m training.synth.generate --seed-base ...`).
const data = option('data', undefined);

/** An item within one evaluation (as bench/eval-page.ts's itemKey). */
const itemKey = (item) => `${item.index}|${item.strategy}|${item.resolution}`;
const readJsonLines = (file) => readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
let result;
if (fromItems) {
  const items = readJsonLines(fromItems).filter((i) => i.split === split);
  result = { model: items[0]?.model, items };
} else {
  const ROOT = fileURLToPath(new URL('..', import.meta.url));
  const dataName = data ? `data-${basename(resolve(data))}` : `${split}${limit ? `-${limit}` : ''}`;
  const dataDir = `${ROOT}bench/eval-data/${dataName}/`;
  const splitLabel = data ? dataName : split;
  if (data) {
    // The page fetches images from the bench server, which serves the repo: copy them in.
    if (!existsSync(`${resolve(data)}/questions.jsonl`)) throw new Error(`--data ${data}: no questions.jsonl there (expected the generator's output format)`);
    if (resolve(data) + '/' !== dataDir) cpSync(resolve(data), dataDir, { recursive: true });
  } else if (!existsSync(`${dataDir}questions.jsonl`)) {
    mkdirSync(dataDir, { recursive: true });
    console.error(`[eval] generating ${split}${limit ? ` (first ${limit} scenes)` : ''} into bench/eval-data/${dataName}/ ...`);
    execFileSync('/usr/bin/python3', ['-m', 'training.synth.generate', '--split', split, '--format', 'png', '--out', dataDir, ...(limit ? ['--count', limit] : [])], { cwd: ROOT, stdio: 'inherit' });
  }
  const questions = readJsonLines(`${dataDir}questions.jsonl`).map((q) => ({ id: q.id, index: Number(q.id.split('-').at(-2)), image: q.image, question: q.question, answer: q.answer, type: q.type, options: q.options, target_bboxes: q.target_bboxes }));

  // With --out, each item is appended to FILE.partial.jsonl as it is scored (after a first line naming
  // the run); a run stopped part way resumes from there, and the file goes once FILE is written.
  const partial = out ? `${out}.partial.jsonl` : undefined;
  const run = { bundle, split: splitLabel, device, resolutions, tokenBudget, zooms, dtype: dtype ?? null };
  const earlier = [];
  if (partial && existsSync(partial)) {
    const [head, ...rest] = readFileSync(partial, 'utf8').split('\n').filter(Boolean);
    if (head !== JSON.stringify({ run })) throw new Error(`${partial} holds items of another run (${head}); delete it to start this one over`);
    // A line cut short by the stop is asked again.
    for (const line of rest) { try { earlier.push(JSON.parse(line)); } catch { break; } }
    console.error(`[eval] resuming: ${earlier.length} items already scored in ${partial}`);
  } else if (partial) {
    writeFileSync(partial, JSON.stringify({ run }) + '\n');
  }

  const started = performance.now();
  const bench = await startBench();
  try {
    const page = await bench.openPage();
    if (partial) await page.exposeFunction('loupeEvalItem', (item) => appendFileSync(partial, JSON.stringify(item) + '\n'));
    result = await page.evaluate((o) => window.runEval(o), { bundle, device, base: `/bench/eval-data/${dataName}/`, questions, resolutions, tokenBudget, zooms, done: earlier.map(itemKey), ...(dtype ? { dtype } : {}) });
    result.items = [...earlier, ...result.items];
  } finally {
    await bench.close();
  }
  const seconds = (performance.now() - started) / 1000;

  /**
   * Accuracy per (strategy, resolution, type), then a summary per (strategy, resolution), with
   * the mean ms per question, of which preprocessing and the vision graph (`encode_ms_mean`,
   * the image's own pass), and the mean visual tokens; zoomed runs add how often the zoom region holds at least half of
   * the asked objects' area (`region_covers`) and how often no region was found.
   */
  function aggregate(items) {
    const buckets = new Map();
    const add = (key, item) => {
      if (!buckets.has(key)) buckets.set(key, []);
      buckets.get(key).push(item);
    };
    for (const item of items) {
      add(JSON.stringify([item.strategy, item.resolution, item.type]), item);
      add(JSON.stringify([item.strategy, item.resolution, 'all']), item);
    }
    const share = (list, test) => Math.round((10000 * list.filter(test).length) / list.length) / 100;
    const figures = (list) => {
      const mean = (key) => list.reduce((s, i) => s + (i[key] ?? 0), 0) / list.length;
      const out = { n: list.length, accuracy: share(list, (i) => i.correct), ms_mean: Math.round(mean('ms')) };
      if (list.every((i) => 'encodeMs' in i)) {
        Object.assign(out, { preprocess_ms_mean: Math.round(mean('preprocessMs')), encode_ms_mean: Math.round(mean('encodeMs')), visual_tokens_mean: Math.round(mean('visualTokens')) });
      }
      if (list.some((i) => 'zoom' in i)) {
        out.region_covers = share(list, (i) => i.zoom && i.zoom.targetInside >= 0.5);
        out.no_region = share(list, (i) => !i.zoom);
      }
      return out;
    };
    const rows = [...buckets.keys()].sort().map((key) => [...JSON.parse(key), buckets.get(key)]);
    return [
      ...rows.filter(([, , type]) => type !== 'all').map(([strategy, resolution, type, list]) => ({ model: result.model, strategy, resolution, split: splitLabel, type, ...figures(list) })),
      ...rows.filter(([, , type]) => type === 'all').map(([strategy, resolution, , list]) => ({ summary: true, model: result.model, strategy, resolution, split: splitLabel, ...figures(list), dtypes: result.dtypes })),
    ];
  }

  const lines = aggregate(result.items);
  for (const line of lines) console.log(JSON.stringify(line));
  console.error(`[eval] ${splitLabel}: ${questions.length} questions x ${resolutions.length} resolutions in ${seconds.toFixed(0)} s (${device})`);
  if (out) {
    writeFileSync(out, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    writeFileSync(`${out}.items.jsonl`, result.items.map((i) => JSON.stringify({ split, model: result.model, ...i })).join('\n') + '\n');
    rmSync(partial, { force: true });
  }
}

if (compare) {
  // Item by item against PyTorch: the same scene, strategy and resolution.
  const reference = new Map(
    readJsonLines(compare)
      .filter((r) => r.split === split)
      .map((r) => [itemKey(r), r]),
  );
  const summary = new Map();
  for (const item of result.items) {
    const ref = reference.get(itemKey(item));
    if (!ref) continue;
    const key = `${item.strategy}|${item.resolution}`;
    const s = summary.get(key) ?? { n: 0, samePrediction: 0, sameScore: 0, browser: 0, pytorch: 0 };
    s.n++;
    s.samePrediction += ref.prediction.trim() === item.prediction ? 1 : 0;
    s.sameScore += ref.correct === item.correct ? 1 : 0;
    s.browser += item.correct ? 1 : 0;
    s.pytorch += ref.correct ? 1 : 0;
    summary.set(key, s);
  }
  const compared = [...summary].map(([key, s]) => {
    const [strategy, resolution] = key.split('|');
    return {
      compare: true, strategy, resolution, split, n: s.n,
      browser_accuracy: Math.round((10000 * s.browser) / s.n) / 100, pytorch_accuracy: Math.round((10000 * s.pytorch) / s.n) / 100,
      same_prediction: Math.round((10000 * s.samePrediction) / s.n) / 100, same_score: Math.round((10000 * s.sameScore) / s.n) / 100,
    };
  });
  for (const line of compared) console.log(JSON.stringify(line));
  // Kept beside the summary, so the figures a README quotes are in a committed file.
  if (out && compared.length) appendFileSync(out, compared.map((l) => JSON.stringify(l)).join('\n') + '\n');
  if (!summary.size) console.error(`[eval] ${compare} has no items for ${split} at ${resolutions.join(', ')}`);
}
