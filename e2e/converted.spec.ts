import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { openHarness } from './support';

/**
 * Checkpoints converted by `npm run convert` (tiny ConvLLaVA-sft, MC-LLaVA and PIIP-LLaVA in
 * their released formats, training/convert/) load through the family registry in Chromium and
 * answer with the tokens of the PyTorch reference that ran the checkpoint's own tensors.
 */
const golden = JSON.parse(readFileSync(new URL('./fixtures/convert/golden.json', import.meta.url), 'utf8')) as {
  question: string;
  image: string;
  greedy_ids: number[];
  num_image_tokens: number;
  first_logits_q4_reference: { greedy_ids: number[] };
};

for (const dtype of ['fp32', 'q4'] as const) {
  test(`a converted ConvLLaVA-sft checkpoint answers with the reference tokens on wasm (${dtype}${dtype === 'q4' ? ': the streamed decoder and its .onnx_data' : ''})`, async ({ page }) => {
    await openHarness(page);
    const run = await page.evaluate(
      async ({ image, question, dtype }) => {
        const downloads: string[] = [];
        const onProgress = (p: { stage: string; file?: string }) => {
          if (p.stage === 'download' && p.file && !downloads.includes(p.file)) downloads.push(p.file);
        };
        // q4: the converter's quantised set (int8 encoder, fp32 embeddings, q4 decoder).
        const dtypes = dtype === 'fp32' ? 'fp32' : ({ vision_encoder: 'int8', embed_tokens: 'fp32', decoder_model_merged: 'q4' } as const);
        const model = await window.loupe.loadModel('/models/tiny-converted-convllava/', { device: 'wasm', dtype: dtypes, cache: false, onProgress });
        const chat = model.chat();
        const summary = await chat.setImage(await (await fetch(image)).blob());
        const ids: (number | null)[] = [];
        for await (const piece of chat.ask(question, { maxNewTokens: 16 })) ids.push(piece.tokenId);
        const out = { family: model.info.spec.family, visualTokens: summary.visualTokens, ids: ids.filter((id) => id !== null), downloads };
        await model.dispose();
        return out;
      },
      { image: `/e2e/fixtures/convert/${golden.image}`, question: golden.question, dtype },
    );
    expect(run.family).toBe('convllava');
    expect(run.visualTokens).toBe(golden.num_image_tokens);
    // q4: the PyTorch reference with the decoder's weights on the 4-bit grid.
    expect(run.ids).toEqual(dtype === 'fp32' ? golden.greedy_ids : golden.first_logits_q4_reference.greedy_ids);
    expect(run.downloads.includes('onnx/decoder_model_merged_q4.onnx_data')).toBe(dtype === 'q4');
  });
}

const mc = JSON.parse(readFileSync(new URL('./fixtures/convert/mcllava-golden.json', import.meta.url), 'utf8')) as {
  question: string;
  image: string;
  knobs: { max_crops: number; num_tokens: number };
  greedy_ids: number[];
  num_image_tokens: number;
  first_logits_q4_reference: { greedy_ids: number[] };
};

for (const dtype of ['fp32', 'q4'] as const) {
  test(`a converted MC-LLaVA checkpoint (Phi-2 decoder) answers with the reference tokens on wasm (${dtype}${dtype === 'q4' ? ': the streamed Phi-2 decoder and its .onnx_data' : ''}), crops and coords fed`, async ({ page }) => {
    await openHarness(page);
    const run = await page.evaluate(
      async ({ image, question, knobs, dtype }) => {
        const dtypes = dtype === 'fp32' ? 'fp32' : ({ vision_encoder: 'int8', embed_tokens: 'fp32', decoder_model_merged: 'q4' } as const);
        const model = await window.loupe.loadModel('/models/tiny-converted-mcllava/', { device: 'wasm', dtype: dtypes, cache: false });
        const chat = model.chat();
        const summary = await chat.setImage(await (await fetch(image)).blob(), { maxCrops: knobs.max_crops, numTokens: knobs.num_tokens });
        const ids: (number | null)[] = [];
        for await (const piece of chat.ask(question, { maxNewTokens: 16 })) ids.push(piece.tokenId);
        const out = { family: model.info.spec.family, visualTokens: summary.visualTokens, inputs: summary.plan.inputs.length, ids: ids.filter((id) => id !== null) };
        await model.dispose();
        return out;
      },
      { image: `/e2e/fixtures/convert/${mc.image}`, question: mc.question, knobs: mc.knobs, dtype },
    );
    expect(run.family).toBe('mc-llava');
    expect(run.inputs).toBe(3);
    expect(run.visualTokens).toBe(mc.num_image_tokens);
    // q4: the PyTorch reference with the decoder's weights on the 4-bit grid.
    expect(run.ids).toEqual(dtype === 'fp32' ? mc.greedy_ids : mc.first_logits_q4_reference.greedy_ids);
  });
}

const piip = JSON.parse(readFileSync(new URL('./fixtures/convert/piip-golden.json', import.meta.url), 'utf8')) as {
  question: string;
  image: string;
  greedy_ids: number[];
  num_image_tokens: number;
  first_logits_q4_reference: { greedy_ids: number[] };
};

for (const dtype of ['fp32', 'q4'] as const) {
  test(`a converted PIIP-LLaVA checkpoint (CLIP + ConvNeXt pyramid, deformable interactions) answers with the reference tokens on wasm (${dtype})`, async ({ page }) => {
    await openHarness(page);
    const run = await page.evaluate(
      async ({ image, question, dtype }) => {
        const dtypes = dtype === 'fp32' ? 'fp32' : ({ vision_encoder: 'int8', embed_tokens: 'fp32', decoder_model_merged: 'q4' } as const);
        const model = await window.loupe.loadModel('/models/tiny-converted-piip/', { device: 'wasm', dtype: dtypes, cache: false });
        const chat = model.chat();
        const summary = await chat.setImage(await (await fetch(image)).blob());
        const ids: (number | null)[] = [];
        for await (const piece of chat.ask(question, { maxNewTokens: 16 })) ids.push(piece.tokenId);
        const out = { family: model.info.spec.family, visualTokens: summary.visualTokens, feeds: summary.plan.inputs.map((i) => `${i.role}:${i.width}`), ids: ids.filter((id) => id !== null) };
        await model.dispose();
        return out;
      },
      { image: `/e2e/fixtures/convert/${piip.image}`, question: piip.question, dtype },
    );
    expect(run.family).toBe('piip');
    expect(run.feeds).toEqual(['high:256', 'low:96']);
    expect(run.visualTokens).toBe(piip.num_image_tokens);
    // q4: the PyTorch reference with the decoder's weights on the 4-bit grid.
    expect(run.ids).toEqual(dtype === 'fp32' ? piip.greedy_ids : piip.first_logits_q4_reference.greedy_ids);
  });
}
