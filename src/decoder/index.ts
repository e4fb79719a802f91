export { KvCache } from './kv-cache';
export { LanguageModel } from './language-model';
export type { ImageInSequence, SessionPlacement, TransferBytes } from './language-model';
export { generate } from './generate';
export type { GenerateRequest, GenerateResult, StopReason } from './generate';
export { planPrefix, commonPrefixLength } from './prefix-plan';
export type { PrefixPlan } from './prefix-plan';
export { EvidenceSum, EVIDENCE_OUTPUT } from './evidence';
