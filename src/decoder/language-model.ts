import { ort } from '../device/ort';
import type { BundleSpec } from '../bundle';
import { LoupeError } from '../errors';
import { asFloat32, mergeImageFeatures, type ImageSpan } from '../embeddings';
import { floatInput, inputFloatType } from '../device/float-input';
import { kvName } from '../models';
import type { KvCache } from './kv-cache';
import { lastRow } from './last-row';
import { EVIDENCE_OUTPUT, type EvidenceSum } from './evidence';

/** An image's features and the positions they occupy in the sequence. */
export interface ImageInSequence {
  span: ImageSpan;
  features: Float32Array;
}

/** Bytes that crossed between the CPU and the GPU (all zero when nothing runs on WebGPU). */
export interface TransferBytes {
  /** Logits read back: one vocabulary row per step. */
  logitsRead: number;
  /** Embeddings read back, only for rows an image's features are merged into. */
  embedsRead: number;
  /** CPU tensors fed to WebGPU sessions: token ids, masks, positions, and merged embeddings. */
  written: number;
  /** The decoder's attention rows read back, only for answers that ask for their evidence. */
  evidenceRead: number;
}

/** Which of the two sessions run on WebGPU. */
export interface SessionPlacement {
  embedOnGpu: boolean;
  decoderOnGpu: boolean;
}

function overlaps(span: ImageSpan | undefined, start: number, rows: number): boolean {
  return span !== undefined && span.start < start + rows && span.start + span.length > start;
}

/** Bytes of the CPU tensors among `feeds` (what a WebGPU session must upload). */
function cpuBytes(feeds: Record<string, ort.Tensor>): number {
  return Object.values(feeds).reduce((sum, t) => sum + (t.location === 'cpu' ? (t.data as ArrayBufferView).byteLength : 0), 0);
}

/** The two text-side graphs and the one step they take together. */
export class LanguageModel {
  private readonly hasPositionIds: boolean;
  private readonly hasLogitsToKeep: boolean;
  /** The decoder's outputs but the evidence one, which is fetched only when asked for. */
  private readonly plainOutputs: readonly string[];
  /** The decoder exports `attention_last` (training/evidence_output.py), so answers can carry evidence. */
  readonly hasEvidence: boolean;
  /** Bytes that crossed so far; logitsRead counts every logits byte read, on wasm too. */
  readonly transfer: TransferBytes = { logitsRead: 0, embedsRead: 0, written: 0, evidenceRead: 0 };

  constructor(
    readonly spec: BundleSpec,
    private readonly embedTokens: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    private readonly placement: SessionPlacement = { embedOnGpu: false, decoderOnGpu: false },
  ) {
    this.hasPositionIds = decoder.inputNames.includes('position_ids');
    this.hasLogitsToKeep = decoder.inputNames.includes('num_logits_to_keep');
    this.hasEvidence = decoder.outputNames.includes(EVIDENCE_OUTPUT);
    this.plainOutputs = decoder.outputNames.filter((name) => name !== EVIDENCE_OUTPUT);
  }

  /** Element type of the KV cache, as the decoder declares its past inputs (fp16 for q4f16/fp16 decoders). */
  get cacheType(): 'float32' | 'float16' {
    return inputFloatType(this.decoder, kvName(this.spec.kv.past, 0, 'key'));
  }

  /**
   * The decoder's inputs_embeds for `fed` (at sequence position `start`). When both graphs
   * run on WebGPU and no image features go into these rows (every decode step), the
   * embeddings stay on the GPU: nothing is read back or written again. Rows that take image
   * features are read back, merged on the CPU and written as one tensor.
   */
  private async inputsEmbeds(fed: readonly number[], start: number, image?: ImageInSequence): Promise<ort.Tensor> {
    const hidden = this.spec.text.hiddenSize;
    const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.from(fed, (id) => BigInt(id)), [1, fed.length]) };
    if (this.placement.embedOnGpu) this.transfer.written += cpuBytes(feeds);
    const embeds = (await this.embedTokens.run(feeds)).inputs_embeds;
    if (!embeds) throw new LoupeError('INTERNAL', 'embed_tokens produced no inputs_embeds.');
    const wanted = inputFloatType(this.decoder, 'inputs_embeds');
    const merges = overlaps(image?.span, start, fed.length);
    if (embeds.location === 'gpu-buffer' && this.placement.decoderOnGpu && !merges && embeds.type === wanted) return embeds;
    // getData() moves the tensor to the CPU: note where it was first.
    const onGpu = embeds.location === 'gpu-buffer';
    const raw = await embeds.getData();
    if (onGpu) this.transfer.embedsRead += (raw as ArrayBufferView).byteLength;
    embeds.dispose();
    const data = asFloat32(raw);
    mergeImageFeatures(data, start, fed.length, hidden, image?.span, image?.features);
    return floatInput(this.decoder, 'inputs_embeds', data, [1, fed.length, hidden]);
  }

  /**
   * Runs the decoder over `ids.slice(cache.length)` on top of `cache`, merging image
   * features at placeholder positions. Returns the last position's logits; the cache
   * takes ownership of the new keys and values. With `evidence`, the last position's
   * attention rows go to it too (the decoder must have the evidence output).
   */
  async step(ids: readonly number[], cache: KvCache, image?: ImageInSequence, evidence?: EvidenceSum): Promise<Float32Array> {
    const start = cache.length;
    const fed = ids.slice(start);
    const embeds = await this.inputsEmbeds(fed, start, image);
    const total = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: embeds,
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      ...cache.feeds(),
    };
    if (this.hasPositionIds) {
      feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(fed, (_, i) => BigInt(start + i)), [1, fed.length]);
    }
    // Only the last row is read: a graph that can compute just that one saves [S, vocab] floats.
    if (this.hasLogitsToKeep) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(1n), []);
    if (this.placement.decoderOnGpu) this.transfer.written += cpuBytes(feeds);
    let outputs: ort.InferenceSession.OnnxValueMapType;
    try {
      outputs = await this.decoder.run(feeds, evidence ? this.decoder.outputNames : this.plainOutputs);
    } finally {
      if (embeds.location === 'gpu-buffer') embeds.dispose();
    }
    const logits = outputs.logits;
    if (!logits) throw new LoupeError('INTERNAL', 'decoder_model_merged produced no logits.');
    const { row: last, readBytes } = await lastRow(logits, logits.dims[2] ?? this.spec.text.vocabSize);
    this.transfer.logitsRead += readBytes;
    logits.dispose();
    const attention = outputs[EVIDENCE_OUTPUT];
    if (evidence && attention) {
      const rows = asFloat32(await attention.getData());
      if (this.placement.decoderOnGpu) this.transfer.evidenceRead += rows.byteLength;
      evidence.offer(rows, attention.dims[1] ?? 1);
    }
    attention?.dispose();
    cache.update(outputs, fed);
    return last;
  }

  async release(): Promise<void> {
    await Promise.all([this.embedTokens.release(), this.decoder.release()]);
  }
}
