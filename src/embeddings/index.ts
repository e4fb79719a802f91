export { expandImageTokens, mergeImageFeatures } from './image-tokens';
export type { ImageSpan, ExpandedPrompt } from './image-tokens';
