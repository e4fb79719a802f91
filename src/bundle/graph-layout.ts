import { LoupeError } from '../errors';
import { ECOSYSTEM_KV, kvNames, type KvLayout } from '../models';
import type { ModuleName } from './module-names';

export interface GraphSignature {
  inputNames: readonly string[];
  outputNames: readonly string[];
}

/** The tensor names each module must have in the ecosystem's layout (REFERENCE §5), cache names from the family. */
export function expectedLayout(module: ModuleName, numLayers: number, kv: KvLayout = ECOSYSTEM_KV): { required: GraphSignature; optionalInputs: string[] } {
  switch (module) {
    case 'vision_encoder':
      // pixel_values_low: PIIP's low-resolution branch; coords: MC-LLaVA's crop centres.
      return { required: { inputNames: ['pixel_values'], outputNames: ['image_features'] }, optionalInputs: ['pixel_values_low', 'coords'] };
    case 'embed_tokens':
      return { required: { inputNames: ['input_ids'], outputNames: ['inputs_embeds'] }, optionalInputs: [] };
    case 'decoder_model_merged':
      return {
        required: {
          inputNames: ['inputs_embeds', 'attention_mask', ...kvNames(kv.past, numLayers)],
          outputNames: ['logits', ...kvNames(kv.present, numLayers)],
        },
        // num_logits_to_keep: Optimum's exports that can return only the last rows' logits.
        optionalInputs: ['position_ids', 'num_logits_to_keep'],
      };
  }
}

/**
 * Checks a session's inputs and outputs against the layout, listing expected vs found,
 * so a mismatched export fails at load time with a readable message, not mid-generation.
 */
export function checkGraphLayout(module: ModuleName, file: string, numLayers: number, found: GraphSignature, kv: KvLayout = ECOSYSTEM_KV): void {
  const { required, optionalInputs } = expectedLayout(module, numLayers, kv);
  const missingInputs = required.inputNames.filter((name) => !found.inputNames.includes(name));
  const missingOutputs = required.outputNames.filter((name) => !found.outputNames.includes(name));
  const allowedInputs = new Set([...required.inputNames, ...optionalInputs]);
  const unexpectedInputs = found.inputNames.filter((name) => !allowedInputs.has(name));
  if (missingInputs.length === 0 && missingOutputs.length === 0 && unexpectedInputs.length === 0) return;
  const list = (names: readonly string[]) => (names.length ? names.join(', ') : '(none)');
  throw new LoupeError(
    'GRAPH_LAYOUT_MISMATCH',
    `${file} does not have the ${module} layout. Expected inputs [${list(required.inputNames)}]` +
      `${optionalInputs.length ? ` (optional: ${list(optionalInputs)})` : ''} and outputs [${list(required.outputNames)}]; ` +
      `found inputs [${list(found.inputNames)}] and outputs [${list(found.outputNames)}]. ` +
      'Re-export the module with the ecosystem tensor names (see README, "Model bundle format").',
    {
      details: {
        file,
        module,
        expected: { inputs: required.inputNames, outputs: required.outputNames, optionalInputs },
        found: { inputs: [...found.inputNames], outputs: [...found.outputNames] },
        missingInputs,
        missingOutputs,
        unexpectedInputs,
      },
    },
  );
}
