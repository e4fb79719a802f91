export { encodePlan } from './vision-encoder';
export type { EncodedImage } from './vision-encoder';
