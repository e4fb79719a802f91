import { toHalf } from '../embeddings/float16';
import { ort } from './ort';

/** The float type a graph declares for one of its inputs (fp16 graphs take half precision). */
export function inputFloatType(session: ort.InferenceSession, name: string): 'float32' | 'float16' {
  const meta = session.inputMetadata?.find((m) => m.name === name);
  return meta !== undefined && meta.isTensor && meta.type === 'float16' ? 'float16' : 'float32';
}

/** float32 data as a tensor of the type the graph declares for `name`. */
export function floatInput(session: ort.InferenceSession, name: string, data: Float32Array, dims: readonly number[]): ort.Tensor {
  return inputFloatType(session, name) === 'float16' ? new ort.Tensor('float16', toHalf(data), dims) : new ort.Tensor('float32', data, dims);
}
