import { describe, expect, it } from 'vitest';
import { externalDataFiles, parseExternalData } from '../bundle';
import { LoupeError } from '../errors';
import { WASM_MODULE_LIMIT_BYTES, preflightModule } from './preflight';

/** FastVLM-0.5B's text model: a 151936 x 896 embedding. */
const text = { hiddenSize: 896, numLayers: 24, numKeyValueHeads: 2, headDim: 64, vocabSize: 151936, maxPositions: 32768 };
const gpu = (binding: number) => ({ available: true, shaderF16: false, limits: { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: binding, maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 } });
const caught = (run: () => void) => {
  try {
    run();
  } catch (error) {
    return error as LoupeError;
  }
  return undefined;
};

describe('pre-download check', () => {
  it('refuses a module larger than a wasm heap, naming the files and the limit', () => {
    const entry = { module: 'decoder_model_merged' as const, dtype: 'fp32' as const, files: [{ file: 'onnx/decoder_model_merged.onnx', bytes: 2 ** 20 }, { file: 'onnx/decoder_model_merged.onnx_data', bytes: 3.2 * 2 ** 30 }] };
    const error = caught(() => preflightModule(entry, 'wasm', gpu(2 ** 30), text));
    expect(error?.code).toBe('MODEL_TOO_LARGE');
    expect(error?.message).toMatch(/onnx\/decoder_model_merged.onnx \+ onnx\/decoder_model_merged.onnx_data is 3278 MiB.*wasm backend.*q4/);
    expect(error?.details).toMatchObject({ limit: 'wasm32 heap', limitBytes: WASM_MODULE_LIMIT_BYTES });
    // Unknown sizes (no Content-Length) are not refused: the download decides.
    expect(() => preflightModule({ ...entry, files: [{ file: 'x.onnx', bytes: undefined }] }, 'wasm', gpu(2 ** 30), text)).not.toThrow();
  });

  it("refuses an embedding larger than the GPU's binding limit, and accepts it in a smaller dtype", () => {
    const entry = { module: 'embed_tokens' as const, dtype: 'fp32' as const, files: [{ file: 'onnx/embed_tokens.onnx', bytes: 545_000_000 }] };
    const error = caught(() => preflightModule(entry, 'webgpu', gpu(128 * 2 ** 20), text));
    expect(error?.code).toBe('MODEL_TOO_LARGE');
    expect(error?.message).toMatch(/151936 x 896 embedding, 519 MiB in fp32\) exceeds this GPU's maxStorageBufferBindingSize of 128 MiB/);
    expect(() => preflightModule({ ...entry, dtype: 'q4' }, 'webgpu', gpu(256 * 2 ** 20), text)).not.toThrow();
    expect(() => preflightModule(entry, 'wasm', gpu(128 * 2 ** 20), text)).not.toThrow();
  });
});

describe('external data files', () => {
  it('follow transformers.js: true, a count, or per file / module', () => {
    expect(externalDataFiles(parseExternalData({}), 'onnx/decoder_model_merged.onnx', 'decoder_model_merged')).toEqual([]);
    expect(externalDataFiles(parseExternalData({ use_external_data_format: true }), 'onnx/embed_tokens.onnx', 'embed_tokens')).toEqual(['onnx/embed_tokens.onnx_data']);
    const perFile = parseExternalData({ use_external_data_format: { 'decoder_model_merged_fp16.onnx': 2, vision_encoder: 1 } });
    expect(externalDataFiles(perFile, 'onnx/decoder_model_merged_fp16.onnx', 'decoder_model_merged')).toEqual(['onnx/decoder_model_merged_fp16.onnx_data', 'onnx/decoder_model_merged_fp16.onnx_data_1']);
    expect(externalDataFiles(perFile, 'onnx/decoder_model_merged.onnx', 'decoder_model_merged')).toEqual([]);
    expect(externalDataFiles(perFile, 'onnx/vision_encoder_q4.onnx', 'vision_encoder')).toEqual(['onnx/vision_encoder_q4.onnx_data']);
    expect(() => parseExternalData({ use_external_data_format: 'yes' })).toThrow(/use_external_data_format/);
  });
});
