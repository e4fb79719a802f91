export { encodePixels } from './vision-encoder';
export type { EncodedImage } from './vision-encoder';
