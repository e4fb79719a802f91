/**
 * The bundles this demo ships, for its model picker, and what each one's vision graph
 * takes: a strategy whose recipe feeds other inputs names the bundles that have them.
 * (src/screen/bundles.test.ts checks every entry against its real graph.)
 */
export interface ShippedBundle {
  path: string;
  label: string;
  /** `vision_encoder` input names, in any order. */
  visionInputs: string[];
}

export const SHIPPED_BUNDLES: readonly ShippedBundle[] = [
  { path: 'models/loupe-synth/', label: 'Loupe-Synth (ConvLLaVA, trained)', visionInputs: ['pixel_values'] },
  { path: 'models/loupe-synth-mc/', label: 'Loupe-Synth MC-LLaVA (trained)', visionInputs: ['pixel_values', 'coords'] },
  { path: 'models/loupe-synth-piip/', label: 'Loupe-Synth PIIP (pyramid, trained)', visionInputs: ['pixel_values', 'pixel_values_low'] },
  { path: 'models/loupe-synth-vit336/', label: 'Loupe-Synth ViT-336 (the control, trained)', visionInputs: ['pixel_values'] },
  { path: 'models/tiny-random-convllava/', label: 'tiny ConvLLaVA (random)', visionInputs: ['pixel_values'] },
  { path: 'models/tiny-random-mcllava/', label: 'tiny MC-LLaVA (random; crops + coords)', visionInputs: ['pixel_values', 'coords'] },
  { path: 'models/tiny-random-piip/', label: 'tiny PIIP (random; two-branch pyramid)', visionInputs: ['pixel_values', 'pixel_values_low'] },
  { path: 'models/tiny-converted-convllava/', label: 'tiny ConvLLaVA-sft, converted (random)', visionInputs: ['pixel_values'] },
  { path: 'models/tiny-converted-mcllava/', label: 'tiny MC-LLaVA, converted (random; Phi-2)', visionInputs: ['pixel_values', 'coords'] },
  { path: 'models/tiny-converted-piip/', label: 'tiny PIIP-LLaVA, converted (random)', visionInputs: ['pixel_values', 'pixel_values_low'] },
  { path: 'models/tiny-random-fastvlm/', label: 'tiny FastVLM (random)', visionInputs: ['pixel_values'] },
  { path: 'models/tiny-random-llava15/', label: 'tiny LLaVA-1.5 (random)', visionInputs: ['pixel_values'] },
];

/** The shipped bundles whose vision graph takes exactly the inputs a recipe feeds. */
export function bundlesTaking(fed: readonly string[]): ShippedBundle[] {
  const wanted = [...fed].sort().join(',');
  return SHIPPED_BUNDLES.filter((b) => [...b.visionInputs].sort().join(',') === wanted);
}
