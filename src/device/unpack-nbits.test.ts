import { describe, expect, it } from 'vitest';
import { ROOT, bundleSpec, maxAbsDiff, readBytes } from '../testing/fixtures';
import { ort } from './ort';
import { readFields } from './protobuf';
import { unpackNbitsWeights } from './unpack-nbits';

const DECODER = 'onnx/decoder_model_merged_q4.onnx';

function opTypes(model: Uint8Array): string[] {
  const graph = readFields(model).find((f) => f.num === 7)!;
  return readFields(model, graph.dataStart, graph.dataEnd)
    .filter((f) => f.num === 1)
    .map((node) => readFields(model, node.dataStart, node.dataEnd).find((f) => f.num === 4)!)
    .map((f) => new TextDecoder().decode(model.subarray(f.dataStart, f.dataEnd)));
}

/** Last-position logits of a 3-token prompt with an empty cache, on onnxruntime-web's wasm kernels. */
async function logits(model: Uint8Array, bundle: string, external: { path: string; data: Uint8Array }[]): Promise<Float32Array> {
  const { text } = bundleSpec(bundle);
  const session = await ort.InferenceSession.create(model.slice(), { executionProviders: ['wasm'], ...(external.length ? { externalData: external } : {}) });
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: new ort.Tensor('float32', Float32Array.from({ length: 3 * text.hiddenSize }, (_, i) => Math.sin(i)), [1, 3, text.hiddenSize]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.of(1n, 1n, 1n), [1, 3]),
    position_ids: new ort.Tensor('int64', BigInt64Array.of(0n, 1n, 2n), [1, 3]),
  };
  for (let i = 0; i < text.numLayers; i++) {
    for (const t of ['key', 'value']) feeds[`past_key_values.${i}.${t}`] = new ort.Tensor('float32', new Float32Array(0), [1, text.numKeyValueHeads, 0, text.headDim]);
  }
  const out = await session.run(feeds, ['logits']);
  const data = out.logits!.data as Float32Array;
  await session.release();
  return data.slice((data.length / 3) * 2);
}

describe('MatMulNBits weights unpacked for wasm', () => {
  for (const [bundle, external] of [
    ['loupe-synth', false],
    ['tiny-converted-mcllava', true], // Phi-2, weights in .onnx_data, lm_head in 8-bit blocks
    ['tiny-converted-piip', true],
  ] as const) {
    it(`${bundle}: every MatMulNBits becomes MatMul over its dequantised blocks, same logits`, async () => {
      const dir = `${ROOT}public/models/${bundle}/`;
      const model = readBytes(`${dir}${DECODER}`);
      const data = external ? [{ path: 'decoder_model_merged_q4.onnx_data', data: readBytes(`${dir}${DECODER}_data`) }] : [];
      const packedNodes = opTypes(model).filter((op) => op === 'MatMulNBits').length;
      const unpacked = unpackNbitsWeights(model, data)!;
      expect(packedNodes).toBeGreaterThan(0);
      expect(unpacked.matrices).toBe(packedNodes);
      expect(opTypes(unpacked.bytes)).not.toContain('MatMulNBits');
      const reference = await logits(model, bundle, data);
      const mine = await logits(unpacked.bytes, bundle, data);
      expect(maxAbsDiff(mine, reference)).toBeLessThan(1e-4);
    });
  }

  it('leaves graphs alone: over the memory limit, without MatMulNBits, not protobuf', () => {
    const model = readBytes(`${ROOT}public/models/loupe-synth/${DECODER}`);
    expect(unpackNbitsWeights(model, [], 1024)).toBeUndefined();
    expect(unpackNbitsWeights(readBytes(`${ROOT}public/models/loupe-synth/onnx/embed_tokens_int8.onnx`))).toBeUndefined();
    expect(unpackNbitsWeights(new TextEncoder().encode('<!doctype html><title>404</title>'))).toBeUndefined();
  });

  it('leaves a streamed graph alone when its external data is not given', () => {
    const dir = `${ROOT}public/models/tiny-converted-mcllava/`;
    expect(unpackNbitsWeights(readBytes(`${dir}${DECODER}`), [])).toBeUndefined();
  });
});
