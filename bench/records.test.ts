import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript run by node (bench/run.mjs), no type declarations
import { checkRecords, loadRecords } from './records.mjs';

const dtype = { vision_encoder: 'int8', embed_tokens: 'fp32', decoder_model_merged: 'q4' };
const context = { provider: 'wasm', model: 'm', bundle: '/models/m/', threads: 2, dtype, strategy: 's', resolution: null, visual_tokens: null };

function loads() {
  const samples = [];
  for (const runtime of ['loupe', 'transformers.js']) {
    for (const visit of ['cold', 'warm']) {
      for (const loadMs of [900, 700, 800]) {
        samples.push({ runtime, visit, loadMs, threads: 2, provider: 'wasm', dtype, ...(runtime === 'loupe' ? { workers: 1, breakdown: { config: loadMs / 10, runtime_start: loadMs / 2 } } : {}) });
      }
    }
  }
  return loadRecords(samples, { bundle: '/models/m/', model: 'm' });
}

function fullRun() {
  const stage = (runtime: string, name: string, extra = {}) => ({ ...context, runtime, stage: name, ms: 10, min: 9, median: 10, max: 11, runs: 3, ...extra });
  return [
    ...loads(),
    ...['decode', 'preprocess', 'encode', 'ttft', 'decode-tokens'].map((s) => stage('loupe', s)),
    ...['preprocess', 'ttft', 'decode-tokens'].map((s) => stage('transformers.js', s)),
    stage('onnxruntime-node', 'encode', { provider: 'cpu' }),
    stage('loupe', 'memory', { bytes: 5e8 }),
    stage('transformers.js', 'memory', { bytes: 4e8 }),
  ];
}

describe('bench records', () => {
  it('summarises load samples per runtime and visit, with the median breakdown', () => {
    const records = loads();
    expect(records.map((r: { runtime: string; strategy: string }) => `${r.runtime} ${r.strategy}`)).toEqual([
      'loupe cold (fresh browser context)',
      'loupe warm (a later visit)',
      'transformers.js cold (fresh browser context)',
      'transformers.js warm (a later visit)',
    ]);
    expect(records[0]).toMatchObject({ stage: 'load', median: 800, min: 700, max: 900, runs: 3, threads: 2, dtype, workers: 1, breakdown: { config: 80, runtime_start: 400 } });
    expect(records[2].breakdown).toBeUndefined();
  });

  it('accepts a complete run', () => {
    expect(checkRecords(fullRun())).toEqual([]);
  });

  it('names each missing stage and each record without its context', () => {
    const run = fullRun().filter((r: { runtime: string; stage: string }) => !(r.runtime === 'loupe' && r.stage === 'decode-tokens'));
    delete (run[5] as { dtype?: unknown }).dtype;
    (run[6] as { threads?: unknown }).threads = undefined;
    const problems = checkRecords(run);
    expect(problems).toContain('loupe: no decode-tokens record');
    expect(problems.some((p: string) => /no dtype per module/.test(p))).toBe(true);
    expect(problems.some((p: string) => /threads is undefined/.test(p))).toBe(true);
  });

  it('without peers or memory sampling, asks only for what was run', () => {
    const run = fullRun().filter((r: { runtime: string; stage: string }) => r.runtime !== 'transformers.js' && r.stage !== 'memory');
    expect(checkRecords(run, { peers: false, memory: false })).toEqual([]);
    expect(checkRecords(run)).toContain('transformers.js: no load record');
  });
});
