/** Node-only: the language half of a tiny bundle's parity test, shared by the family tests. */
import { expect } from 'vitest';
import type { BundleSpec } from '../bundle';
import { KvCache } from '../decoder/kv-cache';
import { LanguageModel } from '../decoder/language-model';
import { generate } from '../decoder/generate';
import { expandImageTokens } from '../embeddings';
import { BundleTokenizer, argmax } from '../tokens';
import { maxAbsDiff, readF32, readJson } from './fixtures';
import { openModule } from './sessions';

export interface LanguageGolden {
  question: string;
  prompt_ids: number[];
  input_ids_expanded: number[];
  image_token_id: number;
  num_image_tokens: number;
  first_logits: { argmax: number };
  greedy_ids: number[];
}

/** The image features and where they go in the prompt, as LanguageModel.step takes them. */
interface ImageSpan {
  span: { start: number; length: number };
  features: Float32Array;
}

export async function openLanguage(spec: BundleSpec, dir: string): Promise<LanguageModel> {
  return new LanguageModel(spec, await openModule('embed_tokens', 'fp32', 2, dir), await openModule('decoder_model_merged', 'fp32', 2, dir));
}

/**
 * The chat template's ids, their expansion by the plan's token count, the first logits
 * within 1e-3 of PyTorch's (`fixtures`first_logits.f32) and 16 greedy ids exactly.
 */
export async function expectPromptAndGreedy(
  spec: BundleSpec,
  language: LanguageModel,
  g: LanguageGolden,
  paths: { dir: string; fixtures: string },
  visualTokens: number,
  features: Float32Array,
): Promise<void> {
  const tokenizer = BundleTokenizer.fromFiles(readJson(`${paths.dir}tokenizer.json`), readJson(`${paths.dir}tokenizer_config.json`));
  const ids = tokenizer.encodeChat([{ role: 'user', content: `${spec.imageToken}\n${g.question}` }]);
  expect(ids).toEqual(g.prompt_ids);
  const expanded = expandImageTokens(ids, spec.imageTokenId, visualTokens).ids;
  expect(expanded).toEqual(g.input_ids_expanded);
  const image = { span: { start: expanded.indexOf(g.image_token_id), length: g.num_image_tokens }, features };
  const logits = await language.step(expanded, new KvCache(spec.text), image);
  expect(maxAbsDiff(logits, readF32(`${paths.fixtures}first_logits.f32`))).toBeLessThan(1e-3);
  expect(argmax(logits)).toBe(g.first_logits.argmax);
  expect(await greedyIds(language, spec, expanded, image)).toEqual(g.greedy_ids);
}

/** 16 greedy ids from a fresh cache, as the runtime generates them. */
export async function greedyIds(language: LanguageModel, spec: BundleSpec, ids: number[], image: ImageSpan): Promise<number[]> {
  const result = await generate(language, new KvCache(spec.text), {
    ids,
    image,
    maxNewTokens: 16,
    eosTokenIds: spec.generation.eosTokenIds,
    pick: argmax,
    onToken: () => undefined,
    cancelled: () => false,
  });
  return result.tokenIds;
}
