// The bench's records: load samples summarised, and the check that a run produced every
// stage it should, each record carrying what it was measured on (runtime, provider,
// threads, bundle, dtype). Pure functions, unit-tested in records.test.ts.

/** Median, min, max of samples (ms). */
export function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return { ms: median, min: sorted[0], median, max: sorted[sorted.length - 1], runs: samples.length };
}

const VISITS = {
  cold: 'cold (fresh browser context)',
  warm: 'warm (a later visit)',
};

/** One load record per runtime and visit, from run.mjs's samples ({ runtime, visit, loadMs, threads, provider, dtype, breakdown? }). */
export function loadRecords(samples, { bundle, model }) {
  const out = [];
  for (const runtime of [...new Set(samples.map((s) => s.runtime))]) {
    for (const visit of ['cold', 'warm']) {
      const mine = samples.filter((s) => s.runtime === runtime && s.visit === visit);
      if (!mine.length) continue;
      const first = mine[0];
      const record = {
        runtime, provider: first.provider, model, bundle, threads: first.threads, dtype: first.dtype,
        strategy: VISITS[visit], resolution: null, visual_tokens: null, stage: 'load', ...summary(mine.map((s) => s.loadMs)),
      };
      if (first.workers !== undefined) record.workers = first.workers;
      if (first.breakdown) {
        record.breakdown = Object.fromEntries(Object.keys(first.breakdown).map((k) => [k, summary(mine.map((s) => s.breakdown[k] ?? 0)).median]));
      }
      out.push(record);
    }
  }
  return out;
}

/** Which stages each runtime must have: Loupe all; the peer what it can do; native the encoder. */
export function expectedStages({ peers = true, memory = true } = {}) {
  const loupe = ['load', 'decode', 'preprocess', 'encode', 'ttft', 'decode-tokens', ...(memory ? ['memory'] : [])];
  const peer = ['load', 'preprocess', 'ttft', 'decode-tokens', ...(memory ? ['memory'] : [])];
  return { loupe, ...(peers ? { 'transformers.js': peer } : {}), 'onnxruntime-node': ['encode'] };
}

/** What is wrong with a run's records: missing stages, records without their context. Empty when all is well. */
export function checkRecords(records, options = {}) {
  const problems = [];
  records.forEach((r, i) => {
    const where = `record ${i} (${r.runtime ?? '?'} ${r.stage ?? '?'} ${r.strategy ?? ''})`;
    for (const key of ['runtime', 'provider', 'model', 'bundle', 'stage', 'strategy']) if (typeof r[key] !== 'string' || !r[key]) problems.push(`${where}: no ${key}`);
    if (!Number.isInteger(r.threads) || r.threads < 1) problems.push(`${where}: threads is ${r.threads}`);
    if (!r.dtype || typeof r.dtype !== 'object' || !Object.keys(r.dtype).length) problems.push(`${where}: no dtype per module`);
    const value = r.stage === 'memory' ? r.bytes : r.median;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) problems.push(`${where}: no measured value`);
  });
  for (const [runtime, stages] of Object.entries(expectedStages(options))) {
    for (const stage of stages) {
      if (!records.some((r) => r.runtime === runtime && r.stage === stage)) problems.push(`${runtime}: no ${stage} record`);
    }
  }
  for (const runtime of ['loupe', ...(options.peers === false ? [] : ['transformers.js'])]) {
    for (const visit of Object.values(VISITS)) {
      if (!records.some((r) => r.runtime === runtime && r.stage === 'load' && r.strategy === visit)) problems.push(`${runtime}: no load record for "${visit}"`);
    }
  }
  return problems;
}
