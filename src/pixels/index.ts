export { resampleRgb, coefficients } from './pil-resample';
export type { Rgba8, Box, Filter } from './pil-resample';
export { renderInputRgb, renderInputTensor, normalizeToChw } from './execute-plan';
export { decodeImage } from './decode';
export type { WorkerImageSource } from './decode';
