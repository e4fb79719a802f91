import type { LoupeImageConfig, VisionSpec } from '../bundle';
import { LoupeError } from '../errors';
import { runBytes } from './activation';
import { splitBatches } from './recipe';
import type { StrategyModule } from './strategies/module';
import type { DeviceLimits, EncoderRun, ImagePlan } from './types';

const MB = 2 ** 20;
const mb = (bytes: number) => `${Math.ceil(bytes / MB)} MB`;

/** The bytes one buffer may hold on this device: the binding limit, or the buffer limit if lower. */
export function bufferLimit(limits: DeviceLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize ?? Infinity);
}

/** What one image of the run (the first of each feed) needs: the part no batch split can shrink. */
function oneImageBytes(plan: ImagePlan, run: EncoderRun, vision: VisionSpec): number {
  return runBytes(plan, { ...run, feeds: run.feeds.map((f) => ({ ...f, inputs: f.inputs.slice(0, 1) })) }, vision);
}

/** The largest batch of each run's images that fits; 0 when a single image does not. */
function batchThatFits(plan: ImagePlan, vision: VisionSpec, limit: number): number {
  let batch = Infinity;
  for (const run of plan.recipe.runs) {
    const one = oneImageBytes(plan, run, vision);
    if (one > limit) return 0;
    if (runBytes(plan, run, vision) > limit) batch = Math.min(batch, Math.max(1, Math.floor(limit / one)));
  }
  return batch;
}

/**
 * Makes a plan fit the device: batches of same-size images are first cut into smaller
 * runs; if one image alone still needs more than one buffer holds, the strategy shrinks
 * its own inputs (its `shrink`), step by step, and the notes say what changed and why.
 * A fixed-size encoder, or a strategy with nothing left to shrink, is refused.
 */
export function fitPlan<K>(
  module: StrategyModule<K>,
  knobs: K,
  width: number,
  height: number,
  config: LoupeImageConfig,
  vision: VisionSpec,
  limits: DeviceLimits,
): ImagePlan {
  const limit = bufferLimit(limits);
  const limitText = `the GPU holds at most ${mb(limit)} per buffer (${limit === limits.maxStorageBufferBindingSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize'})`;
  let current = knobs;
  let plan = module.plan(width, height, config, current);
  const first = plan;
  for (;;) {
    const batch = batchThatFits(plan, vision, limit);
    if (batch > 0) {
      const notes = [...plan.notes];
      if (plan !== first) {
        const need = Math.max(...first.recipe.runs.map((run) => runBytes(first, run, vision)));
        notes.push(
          `Reduced from ${module.describe(knobs, config)} (${first.totalTokens} visual tokens) to ${module.describe(current, config)} (${plan.totalTokens}): ` +
            `${limitText}; the encoder's largest activation at the requested size needs ${mb(need)}.`,
        );
      }
      if (batch === Infinity) return { ...plan, notes };
      const recipe = splitBatches(plan.recipe, batch);
      const largest = Math.max(...plan.recipe.runs.map((run) => run.images.length));
      notes.push(`The encoder runs ${largest} images in ${recipe.runs.length} batches of at most ${batch}: ${limitText}.`);
      return { ...plan, recipe, notes };
    }
    const next = config.fixedSize ? undefined : module.shrink(current, config);
    if (!next) {
      const need = Math.min(...plan.recipe.runs.map((run) => oneImageBytes(plan, run, vision)));
      throw new LoupeError(
        'DEVICE_LIMIT',
        `One image of this plan (${module.describe(current, config)}) needs ${mb(need)} in a single GPU buffer, and ${limitText}. ` +
          (config.fixedSize ? "This model's encoder takes one fixed input size, so it cannot be shrunk. " : 'No smaller setting of this strategy fits. ') +
          "Load the model with device: 'wasm', or use a GPU with a larger limit.",
        { details: { limit, needed: need, strategy: plan.strategy } },
      );
    }
    current = next;
    plan = module.plan(width, height, config, current);
  }
}
