import { LoupeError } from '../errors';
import type { KvCache } from './kv-cache';
import type { ImageInSequence, LanguageModel, TransferBytes } from './language-model';
import { yieldToEventLoop } from './yield';
import { probabilityOf } from '../tokens/sampling';
import { EVIDENCE_OUTPUT, EvidenceSum } from './evidence';

export type StopReason = 'eos' | 'max-tokens' | 'aborted';

export interface GenerateRequest {
  /** The whole conversation so far, image placeholders expanded. */
  ids: readonly number[];
  image: ImageInSequence | undefined;
  maxNewTokens: number;
  /** End-of-sequence is suppressed until this many tokens exist (benchmarks, fixed-length runs). */
  minNewTokens?: number;
  eosTokenIds: readonly number[];
  pick: (logits: Float32Array) => number;
  /** Called with every new token; return value ignored. */
  onToken: (id: number) => void;
  /** Polled after every decoder step: cancellation lands within one token. */
  cancelled: () => boolean;
  /** Collect where each kept token's attention went on the image (needs the decoder's evidence output and an image). */
  evidence?: boolean;
}

export interface GenerateResult {
  tokenIds: number[];
  stopReason: StopReason;
  promptTokens: number;
  reusedTokens: number;
  prefillMs: number;
  decodeMs: number;
  kvCacheLocation: string;
  /** Logits bytes that crossed from the decoder to the CPU for this answer. */
  logitsReadBytes: number;
  /** Everything that crossed between the CPU and the GPU for this answer. */
  transferBytes: TransferBytes;
  /** The geometric mean of the kept tokens' probabilities (temperature 1): how sure the model was (1 for no tokens). */
  confidence: number;
  /** Per image token: mean attention (heads, layers, kept tokens) of the answer; with `evidence` only. */
  evidence?: Float32Array;
}

/** What crossed since `before`, and the logits part of it under its older name. */
function transferSince(now: TransferBytes, before: TransferBytes): Pick<GenerateResult, 'logitsReadBytes' | 'transferBytes'> {
  const transferBytes = {
    logitsRead: now.logitsRead - before.logitsRead,
    embedsRead: now.embedsRead - before.embedsRead,
    written: now.written - before.written,
    evidenceRead: now.evidenceRead - before.evidenceRead,
  };
  return { logitsReadBytes: transferBytes.logitsRead, transferBytes };
}

/** Prefill (reusing what the cache already covers), then one token per step until a stop. */
export async function generate(model: LanguageModel, cache: KvCache, request: GenerateRequest): Promise<GenerateResult> {
  const { ids, maxNewTokens } = request;
  const limit = model.spec.text.maxPositions;
  if (ids.length + 1 > limit) {
    throw new LoupeError(
      'PROMPT_TOO_LONG',
      `The prompt needs ${ids.length} positions (image tokens included) but the model's context holds ${limit}. ` +
        'Ask a shorter question, start a new chat, or use fewer visual tokens (a lower resolution or budget).',
      { details: { promptTokens: ids.length, contextLength: limit } },
    );
  }
  const budget = Math.min(maxNewTokens, limit - ids.length);
  const evidence = request.evidence ? evidenceFor(model, request.image) : undefined;
  const plan = await cache.prepare(ids);
  const before = { ...model.transfer };
  const started = performance.now();
  let logits = await model.step(ids, cache, request.image, evidence);
  const prefillMs = performance.now() - started;
  const tokenIds: number[] = [];
  let logProbability = 0;
  let stopReason: StopReason = 'max-tokens';
  const sequence = ids.slice();
  const decodeStarted = performance.now();
  for (;;) {
    await yieldToEventLoop();
    if (request.cancelled()) {
      stopReason = 'aborted';
      break;
    }
    if (tokenIds.length < (request.minNewTokens ?? 0)) for (const eos of request.eosTokenIds) logits[eos] = -Infinity;
    const next = request.pick(logits);
    if (request.eosTokenIds.includes(next)) {
      stopReason = 'eos';
      break;
    }
    tokenIds.push(next);
    logProbability += Math.log(probabilityOf(logits, next));
    evidence?.keep();
    request.onToken(next);
    if (tokenIds.length >= budget) break;
    sequence.push(next);
    logits = await model.step(sequence, cache, request.image, evidence);
  }
  return {
    tokenIds,
    stopReason,
    promptTokens: ids.length,
    reusedTokens: plan.keep,
    prefillMs,
    decodeMs: performance.now() - decodeStarted,
    kvCacheLocation: cache.location,
    confidence: Math.exp(logProbability / Math.max(tokenIds.length, 1)),
    ...transferSince(model.transfer, before),
    ...(evidence ? { evidence: evidence.mean() } : {}),
  };
}

function evidenceFor(model: LanguageModel, image: ImageInSequence | undefined): EvidenceSum {
  if (!model.hasEvidence) {
    throw new LoupeError(
      'UNSUPPORTED_MODEL',
      `This bundle's decoder has no "${EVIDENCE_OUTPUT}" output, so answers cannot carry their evidence. ` +
        'Add it with `python -m training.evidence_output <decoder.onnx>` (any Llama-style graph with one attention Softmax per layer), or ask without evidence or zoom.',
    );
  }
  if (!image) throw new LoupeError('IMAGE_REQUIRED', 'Evidence says where in the image an answer looked: set an image and ask about it first.');
  return new EvidenceSum(image.span);
}
