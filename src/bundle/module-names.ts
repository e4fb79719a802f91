/** The ONNX modules of a LLaVA-style bundle, named as in the ecosystem's layout. */
export const MODULES = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'] as const;
export type ModuleName = (typeof MODULES)[number];
