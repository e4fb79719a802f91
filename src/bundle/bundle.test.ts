import { describe, expect, it } from 'vitest';
import { BUNDLE_DIR, bundleSpec, readJson } from '../testing/fixtures';
import { parseBundleSpec } from './bundle-spec';
import { deviceDefaults, moduleFileName, selectDtypes } from './dtype';
import { checkGraphLayout } from './graph-layout';

describe('bundle spec', () => {
  it('parses the tiny bundle into what the runtime needs', () => {
    const spec = bundleSpec();
    expect(spec.imageTokenId).toBe(3);
    expect(spec.text).toEqual({ hiddenSize: 64, numLayers: 2, numKeyValueHeads: 2, headDim: 16, vocabSize: 512, maxPositions: 512 });
    expect(spec.generation.eosTokenIds).toEqual([2]);
    expect(spec.image.loupe).toMatchObject({ strategy: 'convllava-square', resolution: 128, stride: 64, padColor: [122, 116, 104] });
    expect(spec.image.mean[0]).toBeCloseTo(0.48145466, 8);
    expect(spec.declaredDtypes).toEqual({ vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'q4' });
  });

  it('names the file and the field when a config is wrong', () => {
    const config = readJson<Record<string, unknown>>(`${BUNDLE_DIR}config.json`);
    const preprocessorConfig = readJson<Record<string, unknown>>(`${BUNDLE_DIR}preprocessor_config.json`);
    const broken = { ...config, text_config: { ...(config.text_config as object), hidden_size: 'wide' } };
    expect(() => parseBundleSpec('http://x/', { config: broken, generationConfig: {}, preprocessorConfig })).toThrow(
      /config.json: expected hidden_size to be an integer, found "wide"/,
    );
    const badStrategy = { ...preprocessorConfig, loupe: { strategy: 'zoom' } };
    expect(() => parseBundleSpec('http://x/', { config, generationConfig: {}, preprocessorConfig: badStrategy })).toThrow(/loupe.strategy/);
    const badExtent = { ...preprocessorConfig, loupe: { strategy: 'multicrop', token_extent: 'row' } };
    expect(() => parseBundleSpec('http://x/', { config, generationConfig: {}, preprocessorConfig: badExtent })).toThrow(/loupe.token_extent.*cell, column/);
  });

  it("reads what a multicrop bundle's kept tokens stand for (loupe.token_extent, default: each its patch)", () => {
    const config = readJson<Record<string, unknown>>(`${BUNDLE_DIR}config.json`);
    const preprocessorConfig = readJson<Record<string, unknown>>(`${BUNDLE_DIR}preprocessor_config.json`);
    const column = { ...preprocessorConfig, loupe: { strategy: 'multicrop', token_extent: 'column' } };
    expect(parseBundleSpec('http://x/', { config, generationConfig: {}, preprocessorConfig: column }).image.loupe.tokenExtent).toBe('column');
    expect(bundleSpec().image.loupe.tokenExtent).toBe('cell');
  });

  it('accepts a bundle without a loupe key by reading the CLIP processor fields', () => {
    const config = readJson<Record<string, unknown>>(`${BUNDLE_DIR}config.json`);
    const { loupe: _ignored, ...plain } = readJson<Record<string, unknown>>(`${BUNDLE_DIR}preprocessor_config.json`);
    const spec = parseBundleSpec('http://x/', { config, generationConfig: {}, preprocessorConfig: plain });
    expect(spec.image.loupe).toMatchObject({ strategy: 'convllava-square', resolution: 128, stride: 64, tokenBudget: 576 });
  });
});

describe('dtype selection', () => {
  it('defaults per device: fp16 only where shader-f16 exists, 4-bit decoder everywhere', () => {
    expect(deviceDefaults({ provider: 'webgpu', shaderF16: true })).toEqual({ vision_encoder: 'fp16', embed_tokens: 'fp16', decoder_model_merged: 'q4f16' });
    expect(deviceDefaults({ provider: 'webgpu', shaderF16: false })).toEqual({ vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'q4' });
    expect(deviceDefaults({ provider: 'wasm', shaderF16: false })).toEqual({ vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'q4' });
  });

  it('lets the bundle declare what it ships and the user override per module', () => {
    const declared = { vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'q4' } as const;
    expect(selectDtypes({ provider: 'webgpu', shaderF16: true }, declared, undefined)).toEqual(declared);
    expect(selectDtypes({ provider: 'wasm', shaderF16: false }, declared, { vision_encoder: 'int8' })).toEqual({ ...declared, vision_encoder: 'int8' });
    expect(selectDtypes({ provider: 'wasm', shaderF16: false }, declared, 'fp32')).toEqual({ vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'fp32' });
  });

  it('refuses fp16 where it cannot run, and unknown names, with what to do instead', () => {
    expect(() => selectDtypes({ provider: 'webgpu', shaderF16: false }, undefined, { vision_encoder: 'fp16' })).toThrow(/needs WebGPU with the shader-f16 feature/);
    // wasm runs fp16 graphs when asked (float32 I/O), but does not take a bundle's fp16 default.
    expect(selectDtypes({ provider: 'wasm', shaderF16: false }, undefined, { decoder_model_merged: 'q4f16' }).decoder_model_merged).toBe('q4f16');
    expect(selectDtypes({ provider: 'wasm', shaderF16: false }, { decoder_model_merged: 'q4f16' }, undefined).decoder_model_merged).toBe('q4');
    expect(() => selectDtypes({ provider: 'wasm', shaderF16: false }, undefined, 'q3' as never)).toThrow(/expected one of fp32, fp16/);
    expect(() => selectDtypes({ provider: 'wasm', shaderF16: false }, undefined, { lm_head: 'q4' } as never)).toThrow(/unknown module "lm_head"/);
  });

  it('names files with the ecosystem suffixes', () => {
    expect(moduleFileName('decoder_model_merged', 'q4')).toBe('onnx/decoder_model_merged_q4.onnx');
    expect(moduleFileName('vision_encoder', 'fp32')).toBe('onnx/vision_encoder.onnx');
    expect(moduleFileName('embed_tokens', 'q8')).toBe('onnx/embed_tokens_quantized.onnx');
  });
});

describe('graph layout check', () => {
  it('lists expected vs found names for a mismatched graph', () => {
    let error: unknown;
    try {
      checkGraphLayout('vision_encoder', 'onnx/vision_encoder.onnx', 2, { inputNames: ['images'], outputNames: ['features'] });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({
      code: 'GRAPH_LAYOUT_MISMATCH',
      details: { missingInputs: ['pixel_values'], missingOutputs: ['image_features'], unexpectedInputs: ['images'] },
    });
    expect(String((error as Error).message)).toMatch(/Expected inputs \[pixel_values\].*found inputs \[images\]/);
  });

  it('accepts a decoder with or without position_ids, and requires every KV name', () => {
    const kv = (p: string) => [0, 1].flatMap((i) => [`${p}.${i}.key`, `${p}.${i}.value`]);
    const outputs = ['logits', ...kv('present')];
    expect(() => checkGraphLayout('decoder_model_merged', 'd', 2, { inputNames: ['inputs_embeds', 'attention_mask', ...kv('past_key_values')], outputNames: outputs })).not.toThrow();
    expect(() =>
      checkGraphLayout('decoder_model_merged', 'd', 2, { inputNames: ['inputs_embeds', 'attention_mask', 'position_ids', ...kv('past_key_values')], outputNames: outputs }),
    ).not.toThrow();
    expect(() => checkGraphLayout('decoder_model_merged', 'd', 3, { inputNames: ['inputs_embeds', 'attention_mask', ...kv('past_key_values')], outputNames: outputs })).toThrow(
      /past_key_values.2.key/,
    );
  });
});
