export { expandImageTokens, mergeImageFeatures } from './image-tokens';
