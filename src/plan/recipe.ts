import type { EncoderRecipe, EncoderRun, ImagePlan } from './types';

/** Every input stacked in one `pixel_values` batch (inputs of one size), all tokens kept. */
export function batchRecipe(inputs: number[], options: { coords?: boolean; keepLast?: number[]; tokenExtent?: 'column' } = {}): EncoderRecipe {
  const feeds: EncoderRun['feeds'] = [{ name: 'pixel_values', from: 'pixels', inputs }];
  if (options.coords) feeds.push({ name: 'coords', from: 'coords', inputs });
  return {
    runs: [{ feeds, images: inputs }],
    ...(options.keepLast ? { keepLast: options.keepLast } : {}),
    ...(options.tokenExtent ? { tokenExtent: options.tokenExtent } : {}),
  };
}

/** The same runs with every batch cut into batches of at most `size` images. */
export function splitBatches(recipe: EncoderRecipe, size: number): EncoderRecipe {
  const runs = recipe.runs.flatMap((run) => {
    if (run.images.length <= size || !run.feeds.every((f) => f.inputs.length === run.images.length)) return [run];
    const out: EncoderRun[] = [];
    for (let start = 0; start < run.images.length; start += size) {
      const cut = (list: number[]) => list.slice(start, start + size);
      out.push({ feeds: run.feeds.map((f) => ({ ...f, inputs: cut(f.inputs) })), images: cut(run.images) });
    }
    return out;
  });
  return { ...recipe, runs };
}

/** Every plan input a recipe feeds as pixels, once per feed, in ascending order. */
export function fedInputs(plan: Pick<ImagePlan, 'recipe'>): number[] {
  return plan.recipe.runs.flatMap((run) => run.feeds.filter((f) => f.from === 'pixels').flatMap((f) => f.inputs)).sort((a, b) => a - b);
}
