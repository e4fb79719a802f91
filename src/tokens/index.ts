export { BundleTokenizer } from './tokenizer';
export type { ChatMessage, ChatRole } from './tokenizer';
export { createSampler, argmax, seededRandom, checkSampling } from './sampling';
export type { SamplingOptions } from './sampling';
export { TextStream } from './text-stream';
