export { expandImageTokens, mergeImageFeatures } from './image-tokens';
export type { ImageSpan, ExpandedPrompt } from './image-tokens';
export { toHalf, toHalfBits, fromHalfBits, asFloat32 } from './float16';
