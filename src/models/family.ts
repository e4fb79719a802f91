import type { LoupeImageConfig } from '../bundle/image-config';
import type { Json } from '../bundle/json';

/** The JSON files a family reads, as found in the bundle ({} for an absent optional file). */
export interface FamilyFiles {
  config: Json;
  preprocessor: Json;
  /** processor_config.json: LlavaProcessor's image_token, patch_size, num_additional_image_tokens. */
  processor: Json;
}

/**
 * Names of the decoder's cache tensors, as templates with `{layer}` and `{kind}` (key or
 * value). Past tensors are inputs, present tensors the outputs that become the next past.
 */
export interface KvLayout {
  past: string;
  present: string;
}

/**
 * One architecture the runtime runs: everything generic code would otherwise have to
 * know by name. A new architecture is a folder with one of these and a registry line.
 */
export interface ModelFamily {
  /** Stable name, reported in the model's info and in errors. */
  readonly name: string;
  /** config.json `model_type` values the family serves. */
  readonly modelTypes: readonly string[];
  /** Human-readable summary for the UNSUPPORTED_MODEL message. */
  readonly describe: string;
  /** Several families may share a model_type ('llava' with a ConvNeXt or a ViT tower). */
  accepts(config: Json): boolean;
  /** Where the language model's keys are: `text_config`, or the root of a flat config. */
  textConfig(config: Json): Json;
  /** The placeholder written once per image in a user message, expanded to the visual tokens. */
  imageToken(files: FamilyFiles): string;
  /** How an image becomes the vision graph's input, for a bundle without Loupe's `loupe` key. */
  imageConfig(files: FamilyFiles): LoupeImageConfig;
  /** What a bundle's `loupe` key overrides (absent: Loupe's ConvLLaVA defaults). */
  loupeBase?(files: FamilyFiles): LoupeImageConfig;
  readonly kv: KvLayout;
}
