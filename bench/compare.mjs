#!/usr/bin/env node
// `npm run compare`: issue 12's comparison of the three systems and the ViT-336 control, all in
// the browser on the same held-out scenes. Each (bundle, setting, split) is one `npm run eval`
// (wasm, the bundle's shipped dtypes) writing training/results/compare/<bundle>-<setting>-<split>.jsonl,
// paired item by item with the PyTorch evaluation where one is saved; a file already there is kept
// (the run resumes where it stopped, within a setting from the items kept so far; --force reruns).
// Then `python -m training.vlm.report` draws the table and the chart from whatever is there.
// Options: --split test-small-detail,test-large (default both), --only loupe-synth-mc,... (bundles),
// --setting mc16x576,... (only these settings), --force, --list (print the plan, run nothing).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { flag, option } from './harness.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = `${ROOT}training/results/`;

/** What is compared: every setting the issue names, per bundle, and where its PyTorch items are. */
const SYSTEMS = [
  { bundle: 'loupe-synth', settings: ['768', '1024', '1536', 'native'], pytorch: (split) => `pytorch-${split}.jsonl.items.jsonl` },
  { bundle: 'loupe-synth-mc', settings: ['mc4x144', 'mc4x576', 'mc16x144', 'mc16x576', 'mc64x144', 'mc64x576'], pytorch: (split) => `pytorch-mcllava-${split}.jsonl.items.jsonl` },
  { bundle: 'loupe-synth-piip', settings: ['pyramid1536'], pytorch: (split) => `pytorch-piip-${split}.jsonl.items.jsonl` },
  { bundle: 'loupe-synth-vit336', settings: ['vit336'], pytorch: (split) => `pytorch-vit336-${split}.jsonl.items.jsonl` },
];

const splits = option('split', 'test-small-detail,test-large').split(',');
const only = option('only', undefined)?.split(',');
const onlySettings = option('setting', undefined)?.split(',');
const force = flag('force');

const runs = [];
for (const system of SYSTEMS) {
  if (only && !only.includes(system.bundle)) continue;
  if (!existsSync(`${ROOT}public/models/${system.bundle}/config.json`)) {
    console.error(`[compare] public/models/${system.bundle}/ is not there: skipped (npm run train -- --model ... makes it)`);
    continue;
  }
  for (const split of splits) {
    for (const setting of system.settings) {
      if (onlySettings && !onlySettings.includes(setting)) continue;
      const out = `${RESULTS}compare/${system.bundle}-${setting}-${split}.jsonl`;
      if (existsSync(out) && !force) continue;
      const reference = `${RESULTS}${system.pytorch(split)}`;
      runs.push({ bundle: system.bundle, setting, split, out, reference: existsSync(reference) ? reference : undefined });
    }
  }
}

console.error(`[compare] ${runs.length} runs to do${runs.length ? ':' : ''}`);
for (const run of runs) console.error(`  ${run.bundle} ${run.setting} ${run.split}${run.reference ? '' : ' (no PyTorch items to pair with)'}`);
if (!flag('list')) {
  mkdirSync(`${RESULTS}compare`, { recursive: true });
  for (const [i, run] of runs.entries()) {
    const started = Date.now();
    console.error(`[compare] ${i + 1}/${runs.length}: ${run.bundle} ${run.setting} ${run.split}`);
    if (force) rmSync(`${run.out}.partial.jsonl`, { force: true });
    const args = ['bench/eval.mjs', '--bundle', `/models/${run.bundle}/`, '--split', run.split, '--resolution', run.setting, '--out', run.out];
    if (run.reference) args.push('--compare', run.reference);
    const { status } = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (status !== 0) throw new Error(`[compare] ${args.join(' ')} exited ${status}: its file is not written; rerun npm run compare to resume`);
    console.error(`[compare] ${run.bundle} ${run.setting} ${run.split}: ${((Date.now() - started) / 60000).toFixed(1)} min`);
  }
  const report = spawnSync('/usr/bin/python3', ['-m', 'training.vlm.report'], { cwd: ROOT, stdio: 'inherit' });
  process.exitCode = report.status ?? 1;
}
