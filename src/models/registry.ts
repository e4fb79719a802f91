import type { Json } from '../bundle/json';
import { LoupeError } from '../errors';
import { convLlava } from './convllava';
import type { ModelFamily } from './family';
import { llavaVit } from './llava';
import { llavaQwen2 } from './llava-qwen2';
import { mcLlava } from './mc-llava';
import { piip } from './piip';

export type { FamilyFiles, KvLayout, ModelFamily } from './family';

/** Every family the runtime runs, first match wins. Adding an architecture adds one line. */
export const FAMILIES: readonly ModelFamily[] = [convLlava, llavaVit, llavaQwen2, mcLlava, piip];

function unsupported(found: string): LoupeError {
  return new LoupeError(
    'UNSUPPORTED_MODEL',
    `config.json describes ${found}, which Loupe does not run. Supported: ${FAMILIES.map((f) => f.describe).join('; ')}. ` +
      'Export the model in one of these layouts, or add a family under src/models/.',
    { details: { found, supported: FAMILIES.map((f) => f.name) } },
  );
}

/** The family for a bundle's config.json, or a typed UNSUPPORTED_MODEL error listing the supported ones. */
export function resolveFamily(config: Json): ModelFamily {
  const modelType = typeof config.model_type === 'string' ? config.model_type : undefined;
  if (modelType === undefined) throw unsupported('no model_type');
  const family = FAMILIES.find((f) => f.modelTypes.includes(modelType) && f.accepts(config));
  if (family) return family;
  const vision = (config.vision_config as Json | undefined)?.model_type;
  throw unsupported(`model_type "${modelType}"${vision !== undefined ? ` with vision_config.model_type "${String(vision)}"` : ''}`);
}

/** The family a parsed BundleSpec names (workers receive the spec as plain data). */
export function familyNamed(name: string): ModelFamily {
  const family = FAMILIES.find((f) => f.name === name);
  if (!family) throw new LoupeError('INTERNAL', `No model family named "${name}"; the spec was made by another Loupe version.`);
  return family;
}
