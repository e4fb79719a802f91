import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { openHarness } from './support';

/**
 * The strategies whose graphs take more than pixels, end to end in Chromium: MC-LLaVA's
 * crops with `coords` (tiny-random-mcllava, training/families/mcllava.py). The browser
 * decodes the PNG, plans the crops, renders and batches them with their centres, keeps
 * each image's last tokens and must answer with the PyTorch greedy tokens.
 */
interface McGolden {
  question: string;
  input_ids_expanded: number[];
  num_image_tokens: number;
  greedy_ids: number[];
  image: { file: string };
  inputs: { role: string; crop_box: number[]; coord: number[]; keep: number }[];
}

const NAME = 'tiny-random-mcllava';
const golden = JSON.parse(readFileSync(new URL(`./fixtures/${NAME}/golden.json`, import.meta.url), 'utf8')) as McGolden;

for (const device of ['wasm', 'webgpu'] as const) {
  test(`${NAME} answers with the PyTorch tokens on ${device}, its crops and coords fed to the vision graph`, async ({ page }) => {
    await openHarness(page);
    const run = await page.evaluate(
      async ({ name, image, question, device }) => {
        const model = await window.loupe.loadModel(`/models/${name}/`, { device, cache: false });
        const chat = model.chat();
        const summary = await chat.setImage(await (await fetch(image)).blob());
        const ids: (number | null)[] = [];
        for await (const piece of chat.ask(question, { maxNewTokens: 16 })) ids.push(piece.tokenId);
        const out = {
          family: model.info.spec.family,
          providers: Object.values(model.info.modules).map((m) => m.provider),
          visualTokens: summary.visualTokens,
          roles: summary.plan.inputs.map((i) => i.role),
          coords: summary.plan.inputs.map((i) => i.coord),
          keep: summary.plan.recipe.keepLast,
          feeds: summary.plan.recipe.runs.flatMap((r) => r.feeds.map((f) => f.name)),
          promptTokens: chat.stats?.promptTokens,
          ids: ids.filter((id) => id !== null),
        };
        await model.dispose();
        return out;
      },
      { name: NAME, image: `/e2e/fixtures/${NAME}/${golden.image.file}`, question: golden.question, device },
    );
    expect(run.family).toBe('mc-llava');
    expect(run.providers).toEqual([device, device, device]);
    expect(run.roles).toEqual(golden.inputs.map((i) => i.role));
    expect(run.coords).toEqual(golden.inputs.map((i) => i.coord));
    expect(run.keep).toEqual(golden.inputs.map((i) => i.keep));
    expect(run.feeds).toEqual(['pixel_values', 'coords']);
    expect(run.visualTokens).toBe(golden.num_image_tokens);
    expect(run.promptTokens).toBe(golden.input_ids_expanded.length);
    expect(run.ids).toEqual(golden.greedy_ids);
  });
}
