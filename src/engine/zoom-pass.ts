import type * as Comlink from 'comlink';
import { LoupeError, abortError } from '../errors';
import type { PlanOverrides } from '../plan';
import type { AskResult, LanguageWorkerApi, TokenPiece, VisionWorkerApi } from '../../workers/protocol';
import { answerEvidence, joinFeatures, type AnswerEvidence } from './evidence';
import type { ImageSummary, ZoomLook, ZoomRequest, ZoomStats } from './types';

/**
 * Zoom defaults, tuned on Loupe-Synth's val split (200 scenes; README "Where did it look";
 * training.vlm.zoom_tuning): the first answer stands when its confidence is above 0.95;
 * otherwise the region is looked at once, at the model's own resolution, and the first answer
 * is kept only when it was more confident than the closer look by more than 0.05. Two looks
 * (two thirds of the model's resolution and all of it, the surest answer given) did as well on
 * val for small objects and lost one large-object question fewer, but on the test splits they
 * gained 0.3-0.4 points for a third more time (README), so one look stays the default.
 */
const DEFAULT_ZOOM_SURE_ABOVE = 0.95;
const DEFAULT_ZOOM_MARGIN = 0.05;
/** Positions an image must leave free: the template, a short question and a few answer tokens. */
export const MIN_PROMPT_ROOM = 16;

/** An answer asked without streaming: its pieces are kept for replaying the one that is given. */
export type CollectedAnswer = { result: AskResult; trimmed: number; pieces: TokenPiece[] };

/** A zoom's first pass and what came of it (`stats.zoomed`: the region is to be looked at closer). */
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
  /** The bundle's own resolution (where the region is looked at unless the request says). */
  resolution: number;
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
 * stands (`stats.zoomed` false); otherwise `closerAnswer` looks at the region.
 */
export async function zoomIn(host: ZoomHost, zoom: ZoomRequest): Promise<ZoomOutcome> {
  const { image, features } = host;
  if (!image || !features) throw new LoupeError('IMAGE_REQUIRED', 'zoom looks closer at the image: call setImage() before asking with zoom.');
  const t0 = performance.now();
  const first = await host.collect(true);
  if (first.result.stopReason === 'aborted') throw abortError('The answer');
  const evidence = answerEvidence(first.result.evidence ?? new Float32Array(image.visualTokens), image.plan, host.stride, zoom);
  const closer = evidence.top !== undefined && first.result.confidence <= (zoom.sureAbove ?? DEFAULT_ZOOM_SURE_ABOVE);
  const stats: ZoomStats = {
    zoomed: closer,
    ...(evidence.top ? { region: evidence.top } : {}),
    firstPassMs: performance.now() - t0,
    firstAnswer: first.result.text,
    confidence: first.result.confidence,
    encodeMs: 0,
    answerMs: 0,
    visualTokens: features.tokens,
    keptGlobal: true,
  };
  return { stats, evidence, firstPass: first };
}

/** The resolutions the region is looked at: the request's (one, or several in their order), or the model's own. */
export function zoomResolutions(zoom: ZoomRequest, modelResolution: number): number[] {
  if (zoom.resolution === undefined) return [modelResolution];
  return typeof zoom.resolution === 'number' ? [zoom.resolution] : [...new Set(zoom.resolution)];
}

/**
 * The closer looks, collected: for each resolution the region is encoded from the original
 * image (the image's strategy, at that resolution) and the language worker answers from
 * global + zoomed tokens (or the zoomed ones only, when both do not fit the context or
 * `keepGlobal` is false). The surest answer is given, to be replayed to the stream: the first
 * one unless a closer look was more confident by more than `margin`, else the most confident
 * look (the earlier on ties). A closer look at a large object can misread it; the model's own
 * confidence says when.
 */
export async function closerAnswer(host: ZoomHost, zoomed: ZoomOutcome, zoom: ZoomRequest): Promise<CollectedAnswer> {
  const { stats, firstPass: first, evidence } = zoomed;
  const { features } = host;
  if (!features || !evidence.top) throw new LoupeError('IMAGE_REQUIRED', 'zoom looks closer at the image: call setImage() before asking with zoom.');
  const { strategy } = host.imageOverrides;
  const looks: ZoomLook[] = [];
  let best: { answer: CollectedAnswer; look: ZoomLook } | undefined;
  for (const resolution of zoomResolutions(zoom, host.resolution)) {
    const t0 = performance.now();
    const overrides: PlanOverrides = { ...(strategy ? { strategy } : {}), resolution, region: evidence.top };
    const encoded = await host.vision.encode({ requestId: host.requestId, source: { keptFor: host.chatId }, overrides });
    const both = features.tokens + encoded.tokens + MIN_PROMPT_ROOM <= host.contextLength;
    const keptGlobal = (zoom.keepGlobal ?? true) && both;
    const tokens = keptGlobal ? features.tokens + encoded.tokens : encoded.tokens;
    await host.language.setImage(host.chatId, keptGlobal ? joinFeatures(features.data, encoded.features) : encoded.features, tokens);
    const t1 = performance.now();
    const answer = await host.collect(false);
    if (answer.result.stopReason === 'aborted') return answer;
    const look: ZoomLook = { resolution, answer: answer.result.text, confidence: answer.result.confidence, encodeMs: t1 - t0, answerMs: performance.now() - t1, visualTokens: tokens, keptGlobal };
    looks.push(look);
    if (!best || look.confidence > best.look.confidence) best = { answer, look };
  }
  Object.assign(stats, {
    looks,
    encodeMs: looks.reduce((sum, l) => sum + l.encodeMs, 0),
    answerMs: looks.reduce((sum, l) => sum + l.answerMs, 0),
  });
  const keepFirst = !best || first.result.confidence > best.look.confidence + (zoom.margin ?? DEFAULT_ZOOM_MARGIN);
  if (best) Object.assign(stats, { zoomedAnswer: best.look.answer, resolution: best.look.resolution, visualTokens: best.look.visualTokens, keptGlobal: best.look.keptGlobal });
  stats.chose = keepFirst ? 'first' : 'zoomed';
  return keepFirst || !best ? first : best.answer;
}
