import type * as Comlink from 'comlink';
import { LoupeError, abortError } from '../errors';
import type { PlanOverrides } from '../plan';
import type { AskResult, LanguageWorkerApi, TokenPiece, VisionWorkerApi } from '../../workers/protocol';
import { answerEvidence, joinFeatures, type AnswerEvidence } from './evidence';
import type { ImageSummary, ZoomRequest, ZoomStats } from './types';

/**
 * Zoom defaults, tuned on Loupe-Synth's val split (200 scenes; README "Where did it look"): the
 * first answer stands when its confidence is above 0.95; after a closer look, the first answer
 * is kept only when it was more confident than the zoomed one by more than 0.05.
 */
const DEFAULT_ZOOM_SURE_ABOVE = 0.95;
const DEFAULT_ZOOM_MARGIN = 0.05;
/** Positions an image must leave free: the template, a short question and a few answer tokens. */
export const MIN_PROMPT_ROOM = 16;

/** An answer asked without streaming: its pieces are kept for replaying the one that is given. */
export type CollectedAnswer = { result: AskResult; trimmed: number; pieces: TokenPiece[] };

/** A zoom's first pass and what came of it (`stats.zoomed`: the region was encoded and set for the answer). */
export interface ZoomOutcome {
  stats: ZoomStats;
  evidence: AnswerEvidence;
  firstPass: CollectedAnswer;
}

/** What the passes need from their chat. */
export interface ZoomHost {
  chatId: number;
  requestId: number;
  vision: Comlink.Remote<VisionWorkerApi>;
  language: Comlink.Remote<LanguageWorkerApi>;
  stride: number;
  contextLength: number;
  image: ImageSummary | undefined;
  features: { data: Float32Array; tokens: number } | undefined;
  /** The options the image was set with (its strategy is the region's). */
  imageOverrides: PlanOverrides;
  /** The question answered without streaming, with the evidence output or without. */
  collect: (evidence: boolean) => Promise<CollectedAnswer>;
}

/**
 * The zoom's first pass and region: an answer with its evidence (not shown). When the model
 * was sure of it (`confidence` above `sureAbove`) or the evidence points nowhere, that answer
 * stands. Otherwise the region holding most of the evidence is encoded from the original
 * image at the model's own resolution and the language worker is given global + zoomed
 * tokens (or the zoomed ones only, when both do not fit the context or `keepGlobal` is false).
 */
export async function zoomIn(host: ZoomHost, zoom: ZoomRequest): Promise<ZoomOutcome> {
  const { image, features } = host;
  if (!image || !features) throw new LoupeError('IMAGE_REQUIRED', 'zoom looks closer at the image: call setImage() before asking with zoom.');
  const t0 = performance.now();
  const first = await host.collect(true);
  if (first.result.stopReason === 'aborted') throw abortError('The answer');
  const evidence = answerEvidence(first.result.evidence ?? new Float32Array(image.visualTokens), image.plan, host.stride, zoom);
  const t1 = performance.now();
  const stats: ZoomStats = {
    zoomed: false,
    ...(evidence.top ? { region: evidence.top } : {}),
    firstPassMs: t1 - t0,
    firstAnswer: first.result.text,
    confidence: first.result.confidence,
    encodeMs: 0,
    answerMs: 0,
    visualTokens: features.tokens,
    keptGlobal: true,
  };
  if (!evidence.top || first.result.confidence > (zoom.sureAbove ?? DEFAULT_ZOOM_SURE_ABOVE)) return { stats, evidence, firstPass: first };
  // The image's strategy, at the model's own knobs (or the zoom's resolution), on the region.
  const { strategy } = host.imageOverrides;
  const overrides: PlanOverrides = { ...(strategy ? { strategy } : {}), ...(zoom.resolution ? { resolution: zoom.resolution } : {}), region: evidence.top };
  const encoded = await host.vision.encode({ requestId: host.requestId, source: { keptFor: host.chatId }, overrides });
  const both = features.tokens + encoded.tokens + MIN_PROMPT_ROOM <= host.contextLength;
  const keptGlobal = (zoom.keepGlobal ?? true) && both;
  const tokens = keptGlobal ? features.tokens + encoded.tokens : encoded.tokens;
  await host.language.setImage(host.chatId, keptGlobal ? joinFeatures(features.data, encoded.features) : encoded.features, tokens);
  Object.assign(stats, { zoomed: true, encodeMs: performance.now() - t1, visualTokens: tokens, keptGlobal });
  return { stats, evidence, firstPass: first };
}

/**
 * The zoomed pass, collected, and the surer of the two answers (to be replayed to the
 * stream): the zoomed one unless the first was more confident by more than `margin` (a
 * closer look at a large object can misread it; the model's own confidence says when).
 */
export async function closerAnswer(host: ZoomHost, zoomed: ZoomOutcome, zoom: ZoomRequest): Promise<CollectedAnswer> {
  const started = performance.now();
  const closer = await host.collect(false);
  const { stats, firstPass: first } = zoomed;
  stats.answerMs = performance.now() - started;
  stats.zoomedAnswer = closer.result.text;
  const keepFirst = closer.result.stopReason !== 'aborted' && first.result.confidence > closer.result.confidence + (zoom.margin ?? DEFAULT_ZOOM_MARGIN);
  stats.chose = keepFirst ? 'first' : 'zoomed';
  return keepFirst ? first : closer;
}
