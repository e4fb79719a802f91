import { ort } from '../device/ort';
import { LoupeError } from '../errors';

export interface EncodedImage {
  /** [tokens, hidden] row-major, already projected to the LLM width. */
  features: Float32Array;
  tokens: number;
  hidden: number;
}

/** Runs `vision_encoder` on one NCHW pixel tensor. */
export async function encodePixels(session: ort.InferenceSession, pixels: Float32Array, width: number, height: number): Promise<EncodedImage> {
  const input = new ort.Tensor('float32', pixels, [1, 3, height, width]);
  let outputs: ort.InferenceSession.ReturnType;
  try {
    outputs = await session.run({ pixel_values: input });
  } catch (error) {
    throw new LoupeError('INTERNAL', `vision_encoder failed on a ${width} x ${height} input: ${String(error)}`, { cause: error });
  }
  const features = outputs.image_features;
  if (!features) throw new LoupeError('INTERNAL', 'vision_encoder produced no image_features.');
  const [, tokens = 0, hidden = 0] = features.dims;
  const data = (await features.getData()) as Float32Array;
  features.dispose();
  return { features: data, tokens, hidden };
}
