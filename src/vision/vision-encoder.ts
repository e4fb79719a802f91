import { ort } from '../device/ort';
import { LoupeError } from '../errors';
import { outputSize, type ImagePlan } from '../plan';
import { asFloat32 } from '../embeddings/float16';
import { floatInput } from '../device/float-input';

export interface EncodedImage {
  /** [tokens, hidden] row-major, already projected to the LLM width. */
  features: Float32Array;
  tokens: number;
  hidden: number;
}

/** Which extra graph inputs each strategy needs. */
const NEEDS: Partial<Record<ImagePlan['strategy'], string>> = { pyramid: 'pixel_values_low', multicrop: 'coords' };

function stack(tensors: Float32Array[]): Float32Array {
  const out = new Float32Array(tensors.reduce((n, t) => n + t.length, 0));
  let offset = 0;
  for (const t of tensors) {
    out.set(t, offset);
    offset += t.length;
  }
  return out;
}

async function run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<{ data: Float32Array; dims: readonly number[] }> {
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

/** Keeps the last `keep[i]` tokens of image i (MC-LLaVA's selection) and concatenates them. */
function selectLastTokens(data: Float32Array, images: number, perImage: number, hidden: number, keep: number[]): Float32Array {
  const total = keep.reduce((a, b) => a + b, 0);
  const out = new Float32Array(total * hidden);
  let offset = 0;
  for (let i = 0; i < images; i++) {
    const k = Math.min(keep[i]!, perImage);
    const from = (i * perImage + perImage - k) * hidden;
    out.set(data.subarray(from, from + k * hidden), offset);
    offset += k * hidden;
  }
  return out.subarray(0, offset);
}

/**
 * Feeds a plan's tensors to `vision_encoder` as its strategy requires: one image; a batch of
 * same-size tiles or crops (with `coords` for multicrop); or PIIP's two resolutions.
 */
export async function encodePlan(session: ort.InferenceSession, plan: ImagePlan, tensors: Float32Array[]): Promise<EncodedImage> {
  const needed = NEEDS[plan.strategy];
  if (needed && !session.inputNames.includes(needed)) {
    throw new LoupeError(
      'INVALID_ARGUMENT',
      `Strategy "${plan.strategy}" needs a vision graph with a "${needed}" input; this bundle's vision_encoder takes [${session.inputNames.join(', ')}]. ` +
        'Choose convllava-square, convllava-native or tiles for this bundle.',
    );
  }
  const imageInputs = plan.inputs.map((input, i) => ({ input, tensor: tensors[i]! })).filter(({ input }) => input.derivedFrom === undefined);
  const first = outputSize(imageInputs[0]!.input);
  if (plan.strategy === 'pyramid') {
    const low = outputSize(plan.inputs[1]!);
    const { data, dims } = await run(session, {
      pixel_values: floatInput(session, 'pixel_values', tensors[0]!, [1, 3, first.height, first.width]),
      pixel_values_low: floatInput(session, 'pixel_values_low', tensors[1]!, [1, 3, low.height, low.width]),
    });
    return { features: data, tokens: dims[1] ?? 0, hidden: dims[2] ?? 0 };
  }
  const sameSize = imageInputs.every(({ input }) => {
    const size = outputSize(input);
    return size.width === first.width && size.height === first.height;
  });
  if (!sameSize) throw new LoupeError('INTERNAL', `Plan "${plan.strategy}" mixes input sizes; the vision graph takes one size per batch.`);
  const batch = imageInputs.length;
  const feeds: Record<string, ort.Tensor> = {
    pixel_values: floatInput(session, 'pixel_values', stack(imageInputs.map((x) => x.tensor)), [batch, 3, first.height, first.width]),
  };
  if (plan.strategy === 'multicrop') {
    feeds.coords = new ort.Tensor('float32', Float32Array.from(imageInputs.flatMap(({ input }) => input.coord ?? [0.5, 0.5])), [batch, 2]);
  }
  const { data, dims } = await run(session, feeds);
  const perImage = dims[1] ?? 0;
  const hidden = dims[2] ?? 0;
  if (plan.strategy === 'multicrop') {
    const features = selectLastTokens(data, batch, perImage, hidden, imageInputs.map(({ input }) => input.tokens));
    return { features, tokens: features.length / hidden, hidden };
  }
  return { features: data, tokens: batch * perImage, hidden };
}
