import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { openHarness } from './support';

/**
 * The strategies whose graphs take more than pixels, end to end in Chromium: MC-LLaVA's
 * crops with `coords` (tiny-random-mcllava) and PIIP's two resolutions with
 * `pixel_values_low` (tiny-random-piip), from training/make_family_bundles.py. The browser
 * decodes the PNG, plans, renders, feeds the graph as the plan's recipe says, keeps the
 * recipe's tokens, and must answer with the PyTorch greedy tokens.
 */
interface Golden {
  question: string;
  input_ids_expanded: number[];
  num_image_tokens: number;
  greedy_ids: number[];
  image: { file: string };
}

const BUNDLES = [
  { name: 'tiny-random-mcllava', family: 'mc-llava', roles: ['global', 'crop', 'crop'], feeds: ['pixel_values', 'coords'] },
  { name: 'tiny-random-piip', family: 'piip', roles: ['high', 'low'], feeds: ['pixel_values', 'pixel_values_low'] },
];

for (const bundle of BUNDLES) {
  const golden = JSON.parse(readFileSync(new URL(`./fixtures/${bundle.name}/golden.json`, import.meta.url), 'utf8')) as Golden & {
    inputs?: { coord: number[]; keep: number }[];
  };
  for (const device of ['wasm', 'webgpu'] as const) {
    test(`${bundle.name} answers with the PyTorch tokens on ${device}, its graph fed ${bundle.feeds.join(' + ')}`, async ({ page }) => {
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
            coords: summary.plan.inputs.map((i) => i.coord ?? null),
            keep: summary.plan.recipe.keepLast ?? null,
            feeds: summary.plan.recipe.runs.flatMap((r) => r.feeds.map((f) => f.name)),
            promptTokens: chat.stats?.promptTokens,
            ids: ids.filter((id) => id !== null),
          };
          await model.dispose();
          return out;
        },
        { name: bundle.name, image: `/e2e/fixtures/${bundle.name}/${golden.image.file}`, question: golden.question, device },
      );
      expect(run.family).toBe(bundle.family);
      expect(run.providers).toEqual([device, device, device]);
      expect(run.roles).toEqual(bundle.roles);
      expect(run.feeds).toEqual(bundle.feeds);
      if (golden.inputs) {
        expect(run.coords).toEqual(golden.inputs.map((i) => i.coord));
        expect(run.keep).toEqual(golden.inputs.map((i) => i.keep));
      }
      expect(run.visualTokens).toBe(golden.num_image_tokens);
      expect(run.promptTokens).toBe(golden.input_ids_expanded.length);
      expect(run.ids).toEqual(golden.greedy_ids);
    });
  }
}
