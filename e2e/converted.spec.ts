import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { openHarness } from './support';

/**
 * Checkpoints converted by `npm run convert` (tiny ConvLLaVA-sft, MC-LLaVA and PIIP-LLaVA in
 * their released formats, training/convert/) load through the family registry in Chromium and
 * answer with the tokens of the PyTorch reference that ran the checkpoint's own tensors; q4
 * (int8 encoder, fp32 embeddings, the streamed q4 decoder and its .onnx_data) with the
 * reference's tokens on the 4-bit grid.
 */
interface ConvertGolden {
  question: string;
  image: string;
  greedy_ids: number[];
  num_image_tokens: number;
  first_logits_q4_reference: { greedy_ids: number[] };
  knobs?: { max_crops: number; num_tokens: number };
}

const goldenOf = (file: string) => JSON.parse(readFileSync(new URL(`./fixtures/convert/${file}`, import.meta.url), 'utf8')) as ConvertGolden;

const RELEASES = [
  { title: 'ConvLLaVA-sft', bundle: 'tiny-converted-convllava', family: 'convllava', golden: goldenOf('golden.json'), feeds: ['image:256'] },
  { title: 'MC-LLaVA (Phi-2 decoder, crops and coords fed)', bundle: 'tiny-converted-mcllava', family: 'mc-llava', golden: goldenOf('mcllava-golden.json'), feeds: ['global:384', 'crop:384', 'crop:384'] },
  { title: 'PIIP-LLaVA (CLIP + ConvNeXt pyramid, deformable interactions)', bundle: 'tiny-converted-piip', family: 'piip', golden: goldenOf('piip-golden.json'), feeds: ['high:256', 'low:96'] },
] as const;

type Run = { device: 'wasm' | 'webgpu'; dtype: 'fp32' | 'q4'; unpack?: false };
// The q4 set on WebGPU too: its MatMulNBits blocks of 4 and (lm_head) 8 bits. On wasm the
// blocks are unpacked to fp32 weights at load by default; once more as MatMulNBits.
const RUNS: Run[] = [
  { device: 'wasm', dtype: 'fp32' },
  { device: 'wasm', dtype: 'q4' },
  { device: 'wasm', dtype: 'q4', unpack: false },
  { device: 'webgpu', dtype: 'q4' },
];

/** Loads the bundle, sets the golden image and asks the golden question for 16 tokens. */
async function answer(page: Page, bundle: string, golden: ConvertGolden, { device, dtype, unpack }: Run) {
  await openHarness(page);
  return page.evaluate(
    async ({ bundle, image, question, knobs, device, dtype, unpack }) => {
      const downloads: string[] = [];
      const onProgress = (p: { stage: string; file?: string }) => {
        if (p.stage === 'download' && p.file && !downloads.includes(p.file)) downloads.push(p.file);
      };
      // q4: the streamed decoder against the reference with its weights quantised; the encoder
      // stays fp32 as in that reference (the int8 encoder's cosine is checked in Node, and
      // the tiny random models' top-2 margins, down to 0.02, are within its error).
      const dtypes = dtype === 'fp32' ? 'fp32' : ({ vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'q4' } as const);
      const model = await window.loupe.loadModel(`/models/${bundle}/`, { device, dtype: dtypes, cache: false, onProgress, ...(unpack === false ? { unpackWeights: false } : {}) });
      const chat = model.chat();
      const summary = await chat.setImage(await (await fetch(image)).blob(), knobs ? { maxCrops: knobs.max_crops, numTokens: knobs.num_tokens } : {});
      const ids: (number | null)[] = [];
      for await (const piece of chat.ask(question, { maxNewTokens: 16 })) ids.push(piece.tokenId);
      const out = {
        family: model.info.spec.family,
        visualTokens: summary.visualTokens,
        feeds: summary.plan.inputs.map((i) => `${i.role}:${i.width}`),
        ids: ids.filter((id) => id !== null),
        eos: model.info.spec.generation.eosTokenIds,
        unpacked: model.info.modules.decoder_model_merged.unpackedWeights?.matrices ?? 0,
        downloads,
      };
      await model.dispose();
      return out;
    },
    { bundle, image: `/e2e/fixtures/convert/${golden.image}`, question: golden.question, knobs: golden.knobs, device, dtype, unpack },
  );
}

for (const release of RELEASES) {
  for (const { device, dtype, unpack } of RUNS) {
    const what = dtype === 'q4' ? `: the streamed decoder and its .onnx_data${device === 'wasm' ? (unpack === false ? ', MatMulNBits kept' : ', unpacked to fp32') : ''}` : '';
    test(`a converted ${release.title} checkpoint answers with the reference tokens on ${device} (${dtype}${what})`, async ({ page }) => {
      const run = await answer(page, release.bundle, release.golden, { device, dtype, ...(unpack === false ? { unpack } : {}) });
      expect(run.unpacked > 0).toBe(device === 'wasm' && dtype === 'q4' && unpack !== false);
      expect(run.family).toBe(release.family);
      expect(run.feeds).toEqual(release.feeds);
      expect(run.visualTokens).toBe(release.golden.num_image_tokens);
      // q4: the PyTorch reference with the decoder's weights quantised (4-bit blocks, lm_head
      // 8-bit). The reference runs 16 steps; the answer ends at an end-of-sequence token.
      const reference = dtype === 'fp32' ? release.golden.greedy_ids : release.golden.first_logits_q4_reference.greedy_ids;
      const end = reference.findIndex((id) => run.eos.includes(id));
      expect(run.ids).toEqual(end < 0 ? reference : reference.slice(0, end));
      expect(run.downloads.includes('onnx/decoder_model_merged_q4.onnx_data')).toBe(dtype === 'q4');
    });
  }
}
