import { ort } from '../device/ort';
import { LoupeError } from '../errors';
import { outputSize, type ImagePlan, type RecipeFeed } from '../plan';
import { asFloat32 } from '../embeddings/float16';
import { floatInput } from '../device/float-input';

export interface EncodedImage {
  /** [tokens, hidden] row-major, already projected to the LLM width. */
  features: Float32Array;
  tokens: number;
  hidden: number;
}

/** One array of all (no copy when it is a single array that owns its whole buffer). */
function stack(tensors: Float32Array[]): Float32Array {
  const only = tensors.length === 1 ? tensors[0]! : undefined;
  if (only && only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) return only;
  const out = new Float32Array(tensors.reduce((n, t) => n + t.length, 0));
  let offset = 0;
  for (const t of tensors) {
    out.set(t, offset);
    offset += t.length;
  }
  return out;
}

async function runGraph(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<{ data: Float32Array; dims: readonly number[] }> {
  let outputs: ort.InferenceSession.ReturnType;
  try {
    outputs = await session.run(feeds);
  } catch (error) {
    const shapes = Object.entries(feeds).map(([name, t]) => `${name} [${t.dims.join(', ')}]`).join(', ');
    throw new LoupeError('INTERNAL', `vision_encoder failed on ${shapes}: ${String(error)}`, { cause: error });
  }
  const features = outputs.image_features;
  if (!features) throw new LoupeError('INTERNAL', 'vision_encoder produced no image_features.');
  const data = asFloat32(await features.getData());
  const dims = features.dims;
  features.dispose();
  return { data, dims };
}

/** The tensor one feed of a run names, from the plan's pixels or crop centres. */
function feedTensor(session: ort.InferenceSession, plan: ImagePlan, feed: RecipeFeed, tensors: Float32Array[]): ort.Tensor {
  if (feed.from === 'coords') {
    return new ort.Tensor('float32', Float32Array.from(feed.inputs.flatMap((i) => plan.inputs[i]!.coord ?? [0.5, 0.5])), [feed.inputs.length, 2]);
  }
  const size = outputSize(plan.inputs[feed.inputs[0]!]!);
  for (const i of feed.inputs) {
    const other = outputSize(plan.inputs[i]!);
    if (other.width !== size.width || other.height !== size.height || !tensors[i]) {
      throw new LoupeError('INTERNAL', `Feed "${feed.name}" batches inputs of different sizes (or unrendered ones): ${feed.inputs.join(', ')}.`);
    }
  }
  return floatInput(session, feed.name, stack(feed.inputs.map((i) => tensors[i]!)), [feed.inputs.length, 3, size.height, size.width]);
}

/** Every name the recipe feeds is a graph input, and every graph input is fed. */
function checkInputs(session: ort.InferenceSession, plan: ImagePlan): void {
  const fed = new Set(plan.recipe.runs.flatMap((run) => run.feeds.map((f) => f.name)));
  const missing = [...fed].filter((name) => !session.inputNames.includes(name));
  const unfed = session.inputNames.filter((name) => !fed.has(name));
  if (missing.length === 0 && unfed.length === 0) return;
  throw new LoupeError(
    'INVALID_ARGUMENT',
    `Strategy "${plan.strategy}" feeds the vision graph [${[...fed].join(', ')}]; this bundle's vision_encoder takes [${session.inputNames.join(', ')}]` +
      (missing.length ? ` (no ${missing.map((n) => `"${n}"`).join(', ')})` : ` (it also needs ${unfed.map((n) => `"${n}"`).join(', ')})`) +
      '. Choose the strategy the bundle declares in its preprocessor_config.json, or a bundle whose vision graph has those inputs.',
    { details: { strategy: plan.strategy, fed: [...fed], graphInputs: [...session.inputNames] } },
  );
}

/**
 * Executes a plan's encoder recipe: each run's feeds (stacked pixels, crop centres, a
 * second resolution) into `vision_encoder`, then per output image the tokens the recipe
 * keeps (all, or its last k), concatenated in order. Knows nothing of strategies.
 */
export async function encodePlan(session: ort.InferenceSession, plan: ImagePlan, tensors: Float32Array[]): Promise<EncodedImage> {
  checkInputs(session, plan);
  const images: Float32Array[] = [];
  let hidden = 0;
  for (const run of plan.recipe.runs) {
    const feeds: Record<string, ort.Tensor> = {};
    for (const feed of run.feeds) feeds[feed.name] = feedTensor(session, plan, feed, tensors);
    const { data, dims } = await runGraph(session, feeds);
    const batch = dims[0] ?? 1;
    hidden = dims[2] ?? 0;
    if (batch !== run.images.length) {
      throw new LoupeError('GRAPH_LAYOUT_MISMATCH', `vision_encoder returned ${batch} images for a batch of ${run.images.length}; expected image_features [batch, tokens, hidden].`);
    }
    const perImage = data.length / batch;
    for (let b = 0; b < batch; b++) images.push(data.subarray(b * perImage, (b + 1) * perImage));
  }
  const kept = images.map((image, i) => {
    const keep = plan.recipe.keepLast?.[i];
    return keep === undefined ? image : image.subarray(Math.max(0, image.length - keep * hidden));
  });
  const features = stack(kept);
  const tokens = hidden ? features.length / hidden : 0;
  if (tokens !== plan.totalTokens) {
    throw new LoupeError(
      'GRAPH_LAYOUT_MISMATCH',
      `The plan has ${plan.totalTokens} visual tokens but vision_encoder gave ${tokens}; the bundle's image config (stride, extra tokens) does not match its graph.`,
    );
  }
  return { features, tokens, hidden };
}
