import { ort } from '../device/ort';
import type { BundleSpec } from '../bundle';
import { LoupeError } from '../errors';
import { asFloat32, mergeImageFeatures, type ImageSpan } from '../embeddings';
import { floatInput, inputFloatType } from '../device/float-input';
import { kvName } from '../models';
import type { KvCache } from './kv-cache';
import { lastRow } from './last-row';

/** An image's features and the positions they occupy in the sequence. */
export interface ImageInSequence {
  span: ImageSpan;
  features: Float32Array;
}

/** The two text-side graphs and the one step they take together. */
export class LanguageModel {
  private readonly hasPositionIds: boolean;
  private readonly hasLogitsToKeep: boolean;
  /** Logits bytes read back to the CPU so far (all of them on wasm, one row per step on WebGPU). */
  logitsReadBytes = 0;

  constructor(
    readonly spec: BundleSpec,
    private readonly embedTokens: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
  ) {
    this.hasPositionIds = decoder.inputNames.includes('position_ids');
    this.hasLogitsToKeep = decoder.inputNames.includes('num_logits_to_keep');
  }

  /** Element type of the KV cache, as the decoder declares its past inputs (fp16 for q4f16/fp16 decoders). */
  get cacheType(): 'float32' | 'float16' {
    return inputFloatType(this.decoder, kvName(this.spec.kv.past, 0, 'key'));
  }

  async embed(ids: readonly number[]): Promise<Float32Array> {
    const input = new ort.Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [1, ids.length]);
    const outputs = await this.embedTokens.run({ input_ids: input });
    const embeds = outputs.inputs_embeds;
    if (!embeds) throw new LoupeError('INTERNAL', 'embed_tokens produced no inputs_embeds.');
    const data = asFloat32(await embeds.getData());
    embeds.dispose();
    return data;
  }

  /**
   * Runs the decoder over `ids.slice(cache.length)` on top of `cache`, merging image
   * features at placeholder positions. Returns the last position's logits; the cache
   * takes ownership of the new keys and values.
   */
  async step(ids: readonly number[], cache: KvCache, image?: ImageInSequence): Promise<Float32Array> {
    const start = cache.length;
    const fed = ids.slice(start);
    const hidden = this.spec.text.hiddenSize;
    const embeds = await this.embed(fed);
    mergeImageFeatures(embeds, start, fed.length, hidden, image?.span, image?.features);
    const total = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: floatInput(this.decoder, 'inputs_embeds', embeds, [1, fed.length, hidden]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      ...cache.feeds(),
    };
    if (this.hasPositionIds) {
      feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(fed, (_, i) => BigInt(start + i)), [1, fed.length]);
    }
    // Only the last row is read: a graph that can compute just that one saves [S, vocab] floats.
    if (this.hasLogitsToKeep) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(1n), []);
    const outputs = await this.decoder.run(feeds);
    const logits = outputs.logits;
    if (!logits) throw new LoupeError('INTERNAL', 'decoder_model_merged produced no logits.');
    const { row: last, readBytes } = await lastRow(logits, logits.dims[2] ?? this.spec.text.vocabSize);
    this.logitsReadBytes += readBytes;
    logits.dispose();
    cache.update(outputs, fed);
    return last;
  }

  async release(): Promise<void> {
    await Promise.all([this.embedTokens.release(), this.decoder.release()]);
  }
}
