import * as Comlink from 'comlink';
import type { ModuleName, Provider } from '../bundle';
import { LoupeError, abortError, isLoupeError } from '../errors';
import { checkAskOptions, checkSetImageOptions } from './options';
import type { ChatMessage } from '../tokens';
import type { AskResult, LanguageWorkerApi, TokenPiece, VisionWorkerApi } from '../../workers/protocol';
import { toWorkerSource } from './image-transfer';
import { PushStream } from './push-stream';
import type { AnswerPiece, AnswerStats, AskOptions, ImageInput, ImageSummary, SetImageOptions } from './types';
import type { PlanOverrides } from '../plan';
import { answerEvidence, type AnswerEvidence } from './evidence';
import { MIN_PROMPT_ROOM, closerAnswer, zoomIn, type CollectedAnswer, type ZoomHost, type ZoomOutcome } from './zoom-pass';

export interface ChatContext {
  vision: Comlink.Remote<VisionWorkerApi>;
  language: Comlink.Remote<LanguageWorkerApi>;
  providers: Record<ModuleName, Provider>;
  nextRequestId: () => number;
  imageToken: string;
  /** The vision encoder's stride: one visual token per stride x stride input pixels (evidence boxes). */
  stride: number;
  /** The decoder's context length (positions), for refusing an image that cannot fit. */
  contextLength: number;
  /** The bundle's own input resolution (where a closer look encodes the region unless asked otherwise). */
  resolution: number;
  /** Counts the language worker's restarts: a new one has none of this chat's state. */
  languageGeneration: () => number;
  /** How long a cancelled call may go on before `stopOverdue` restarts its worker. */
  abortDeadlineMs: number;
  stopOverdue: (role: 'vision' | 'language', what: string) => void;
}

/** Calls `onOverdue` if `settled` has not settled `ms` after `signal` aborts. */
function overdueAfterAbort(signal: AbortSignal | undefined, ms: number, onOverdue: () => void): { settled: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    timer = setTimeout(onOverdue, ms);
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    settled: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

const DEFAULT_MAX_NEW_TOKENS = 128;
let nextChatId = 1;

/**
 * One conversation about (at most) one image. The image is encoded once; every question
 * after the first reuses its features and, where the prompt allows, the KV cache.
 */
export class LoupeChat {
  private readonly id = nextChatId++;
  private readonly messages: ChatMessage[] = [];
  private image: ImageSummary | undefined;
  /**
   * The image's features as the language worker has them, and which worker generation has
   * them: after a restart the next question sends them again (no re-encode, history kept).
   */
  private features: { data: Float32Array; tokens: number; generation: number } | undefined;
  private imageUsed = false;
  private answering = false;
  /** The answer in flight: its request (to cancel on close) and when it has settled. */
  private running: { stop: AbortController; settled: Promise<void> } | undefined;
  private closed = false;
  /** setImage calls so far, and the promise of the last one (overlapping calls resolve to it). */
  private imageCalls = 0;
  private lastImageCall: Promise<ImageSummary> | undefined;
  private lastStats: AnswerStats | undefined;
  private lastEvidence: AnswerEvidence | undefined;
  /** The knobs the image was encoded with (the zoomed pass uses them on its region). */
  private imageOverrides: PlanOverrides = {};

  constructor(private readonly context: ChatContext) {}

  /** The conversation so far (user and assistant turns, as sent to the template). */
  get history(): readonly ChatMessage[] {
    return this.messages;
  }

  get stats(): AnswerStats | undefined {
    return this.lastStats;
  }

  /** Where the last answer looked (asked with `evidence: true` or `zoom`): per token, in image pixels, and the top region. */
  get evidence(): AnswerEvidence | undefined {
    return this.lastEvidence;
  }

  get imageSummary(): ImageSummary | undefined {
    return this.image;
  }

  /**
   * Encodes the image and starts a fresh conversation about it. Calls that overlap resolve
   * to the last one: an earlier call whose image is ready after a later call started is
   * dropped and settles as the later call does.
   */
  setImage(input: ImageInput, options: SetImageOptions = {}): Promise<ImageSummary> {
    const call = this.encodeImage(input, options, ++this.imageCalls);
    this.lastImageCall = call;
    return call;
  }

  private async encodeImage(input: ImageInput, options: SetImageOptions, call: number): Promise<ImageSummary> {
    this.assertOpen();
    if (this.answering) throw new LoupeError('BUSY', 'An answer is still streaming; stop it before changing the image.');
    const { signal, ...overrides } = checkSetImageOptions(options);
    if (signal?.aborted) throw abortError('Setting the image');
    const requestId = this.context.nextRequestId();
    const onAbort = () => void this.context.vision.cancel(requestId);
    signal?.addEventListener('abort', onAbort, { once: true });
    const overdue = overdueAfterAbort(signal, this.context.abortDeadlineMs, () => this.context.stopOverdue('vision', 'Setting the image'));
    try {
      const source = await toWorkerSource(input, globalThis.location?.href ?? 'http://localhost/');
      const result = await this.context.vision.encode({ requestId, source, overrides, keepFor: this.id });
      if (call !== this.imageCalls) return await this.lastImageCall!;
      if (result.tokens + MIN_PROMPT_ROOM > this.context.contextLength) {
        throw new LoupeError(
          'INVALID_ARGUMENT',
          `This image would take ${result.tokens} visual tokens, but the model's context holds ${this.context.contextLength} positions in all ` +
            `(room for the question and answer needs ${MIN_PROMPT_ROOM} more). Use a lower resolution, token budget or num_tokens; the previous image is kept.`,
          { details: { visualTokens: result.tokens, contextLength: this.context.contextLength } },
        );
      }
      const generation = this.context.languageGeneration();
      const kept = result.features.slice();
      await this.context.language.setImage(this.id, Comlink.transfer(result.features, [result.features.buffer]), result.tokens);
      this.features = { data: kept, tokens: result.tokens, generation };
      this.imageOverrides = overrides;
      this.lastEvidence = undefined;
      this.messages.length = 0;
      this.imageUsed = false;
      this.image = {
        plan: result.plan,
        visualTokens: result.tokens,
        decodeMs: result.decodeMs,
        preprocessMs: result.preprocessMs,
        encodeMs: result.encodeMs,
        workingBytes: result.workingBytes,
      };
      return this.image;
    } finally {
      overdue.settled();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Sends the image's features again if the language worker restarted since they were sent. */
  private async reattachImage(): Promise<void> {
    if (this.features && this.features.generation !== this.context.languageGeneration()) await this.sendImage();
  }

  /** The image's own features to the language worker (again: after a restart, or after a zoomed answer). */
  private async sendImage(): Promise<void> {
    const features = this.features;
    if (!features) return;
    const generation = this.context.languageGeneration();
    await this.context.language.setImage(this.id, features.data.slice(), features.tokens);
    features.generation = generation;
  }

  /**
   * Streams the answer to `question` piece by piece. Aborting the signal stops generation
   * within one token: no piece is yielded after the abort, the stream then throws an
   * `ABORTED` LoupeError, the history keeps what the model generated before it stopped,
   * and the chat remains usable.
   */
  ask(question: string, options: AskOptions = {}): AsyncIterable<AnswerPiece> {
    this.assertOpen();
    options = checkAskOptions(options);
    if (this.answering) {
      throw new LoupeError('BUSY', 'This chat is already answering. Wait for the answer or abort it before asking again.');
    }
    if (typeof question !== 'string' || question.trim() === '') {
      throw new LoupeError('INVALID_ARGUMENT', 'ask() needs a non-empty question string.');
    }
    const stream = new PushStream<AnswerPiece>();
    this.answering = true;
    // The chat is free again before the consumer sees the end, so it may ask right away.
    const settle = {
      end: () => {
        this.answering = false;
        stream.end();
      },
      fail: (error: unknown) => {
        this.answering = false;
        stream.fail(error);
      },
    };
    const requestId = this.context.nextRequestId();
    // The caller's signal or close() stop the answer, both under the abort deadline.
    const stop = new AbortController();
    const forward = () => stop.abort();
    if (options.signal?.aborted) stop.abort();
    else options.signal?.addEventListener('abort', forward, { once: true });
    const settled = this.run(requestId, question, { ...options, signal: stop.signal }, stream, settle).catch(settle.fail);
    const running = { stop, settled };
    this.running = running;
    void settled.finally(() => {
      options.signal?.removeEventListener('abort', forward);
      if (this.running === running) this.running = undefined;
    });
    return stream;
  }

  private assertOpen(): void {
    if (this.closed) throw new LoupeError('DISPOSED', 'This chat was closed; start a new one with model.chat().');
  }

  private async run(
    requestId: number,
    question: string,
    options: AskOptions,
    stream: PushStream<AnswerPiece>,
    settle: { end: () => void; fail: (error: unknown) => void },
  ): Promise<void> {
    const { signal } = options;
    const started = performance.now();
    let firstTokenAt: number | undefined;
    const attachImage = this.image !== undefined && !this.imageUsed;
    const content = attachImage ? `${this.context.imageToken}\n${question}` : question;
    let trimmed = 0;
    const onAbort = () => {
      stream.discardBuffered();
      void this.context.language.cancel(requestId);
      void this.context.vision.cancel(requestId);
    };
    if (signal?.aborted) {
      settle.fail(abortError('The answer'));
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const overdue = overdueAfterAbort(signal, this.context.abortDeadlineMs, () => this.context.stopOverdue('language', 'The answer'));
    const onToken = Comlink.proxy((piece: TokenPiece) => {
      firstTokenAt ??= performance.now();
      if (signal?.aborted) return;
      if (piece.text || piece.tokenId !== null) stream.push({ text: piece.text, tokenId: piece.tokenId });
    });
    const zoom = options.zoom === 'auto' ? {} : typeof options.zoom === 'object' ? options.zoom : undefined;
    let result: AskResult;
    let zoomed: ZoomOutcome | undefined;
    try {
      await this.reattachImage();
      const host = zoom ? this.zoomHost(requestId, content, options) : undefined;
      if (zoom && host) zoomed = await zoomIn(host, zoom);
      if (zoom && host && zoomed) {
        // Not zoomed (sure enough, or no region): the first answer is replayed, not asked again.
        const chosen = zoomed.stats.zoomed ? await closerAnswer(host, zoomed, zoom) : zoomed.firstPass;
        for (const piece of chosen.pieces) onToken(piece);
        ({ result, trimmed } = chosen);
      } else {
        ({ result, trimmed } = await this.askLanguage(requestId, content, options, onToken, options.evidence === true));
      }
    } catch (error) {
      // A worker restarted for an overdue cancel rejects with ABORTED, as a clean stop would.
      settle.fail(error);
      return;
    } finally {
      overdue.settled();
      signal?.removeEventListener('abort', onAbort);
      // The zoomed tokens served this answer only: later turns see the image as it was set.
      if (zoomed?.stats.zoomed) await this.sendImage().catch(() => undefined);
    }
    if (zoomed) this.lastEvidence = zoomed.evidence;
    else if (options.evidence) this.lastEvidence = result.evidence && this.image ? answerEvidence(result.evidence, this.image.plan, this.context.stride, {}) : undefined;
    this.messages.push({ role: 'user', content }, { role: 'assistant', content: result.text });
    if (attachImage) this.imageUsed = true;
    this.lastStats = { ...this.statsFor(result, started, firstTokenAt, attachImage), trimmedTurns: trimmed, ...(zoomed ? { zoom: zoomed.stats } : {}) };
    if (result.stopReason === 'aborted') settle.fail(abortError('The answer'));
    else settle.end();
  }

  /**
   * Asks the language worker, leaving out the oldest turns while the prompt is too long for
   * the context (the prompt is rejected before anything is generated) and the history allows.
   */
  private async askLanguage(
    requestId: number,
    content: string,
    options: AskOptions,
    onToken: (piece: TokenPiece) => void,
    evidence: boolean,
  ): Promise<{ result: AskResult; trimmed: number }> {
    for (let trimmed = 0; ; trimmed++) {
      const messages = [...this.keptTurns(trimmed), { role: 'user' as const, content }];
      try {
        const result = await this.context.language.ask(
          {
            requestId,
            chatId: this.id,
            messages,
            maxNewTokens: options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
            ...(options.minNewTokens !== undefined ? { minNewTokens: options.minNewTokens } : {}),
            sampling: options.sampling ?? {},
            ...(evidence ? { evidence: true } : {}),
          },
          onToken,
        );
        return { result, trimmed };
      } catch (error) {
        const canTrim = (options.history ?? 'trim') === 'trim' && trimmed < this.messages.length / 2;
        if (!(isLoupeError(error, 'PROMPT_TOO_LONG') && canTrim)) throw error;
      }
    }
  }

  /** What a zoom's passes (zoom-pass.ts) need of this chat, for one question. */
  private zoomHost(requestId: number, content: string, options: AskOptions): ZoomHost {
    const { vision, language, stride, contextLength, resolution } = this.context;
    return {
      chatId: this.id,
      requestId,
      vision,
      language,
      stride,
      contextLength,
      resolution,
      image: this.image,
      features: this.features,
      imageOverrides: this.imageOverrides,
      collect: (evidence) => this.collectAnswer(requestId, content, options, evidence),
    };
  }

  /** An answer asked without streaming: its pieces are kept for replaying the one that is given. */
  private async collectAnswer(requestId: number, content: string, options: AskOptions, evidence: boolean): Promise<CollectedAnswer> {
    const pieces: TokenPiece[] = [];
    const asked = await this.askLanguage(requestId, content, options, Comlink.proxy((piece: TokenPiece) => void pieces.push(piece)), evidence);
    return { ...asked, pieces };
  }

  /**
   * The history without its `skip` oldest turns (a turn = question + answer). The image
   * placeholder, written into the first question about it, moves to the first question kept.
   */
  private keptTurns(skip: number): ChatMessage[] {
    if (skip === 0) return this.messages;
    const kept = this.messages.slice(2 * skip).map((m) => ({ ...m }));
    const placeholder = `${this.context.imageToken}\n`;
    const hadImage = this.messages.slice(0, 2 * skip).some((m) => m.role === 'user' && m.content.startsWith(placeholder));
    const first = kept.find((m) => m.role === 'user');
    if (hadImage && first && !first.content.startsWith(placeholder)) first.content = placeholder + first.content;
    return kept;
  }

  private statsFor(result: AskResult, started: number, firstTokenAt: number | undefined, encodedForThis: boolean): Omit<AnswerStats, 'trimmedTurns'> {
    const decodeSteps = Math.max(result.tokenIds.length - 1, 0);
    return {
      stopReason: result.stopReason,
      tokensGenerated: result.tokenIds.length,
      promptTokens: result.promptTokens,
      reusedTokens: result.reusedTokens,
      confidence: result.confidence,
      imageReused: this.image !== undefined && !encodedForThis,
      preprocessMs: encodedForThis && this.image ? this.image.decodeMs + this.image.preprocessMs : 0,
      encodeMs: encodedForThis && this.image ? this.image.encodeMs : 0,
      prefillMs: result.prefillMs,
      timeToFirstTokenMs: (firstTokenAt ?? performance.now()) - started,
      decodeTokensPerSecond: decodeSteps > 0 && result.decodeMs > 0 ? (decodeSteps * 1000) / result.decodeMs : 0,
      totalMs: performance.now() - started,
      kvCacheLocation: result.kvCacheLocation,
      logitsReadBytes: result.logitsReadBytes,
      transferBytes: result.transferBytes,
      providers: this.context.providers,
    };
  }

  /** Forgets the conversation and the image. */
  reset(): void {
    if (this.answering) throw new LoupeError('BUSY', 'Stop the answer before resetting the chat.');
    this.messages.length = 0;
    this.image = undefined;
    this.features = undefined;
    this.imageUsed = false;
    this.lastEvidence = undefined;
    void this.context.language.setImage(this.id, null, 0);
    void this.context.vision.forget(this.id).catch(() => undefined);
  }

  /**
   * Ends the chat and frees its state in the worker. An answer still streaming stops cleanly
   * first (its stream ends with ABORTED, within `abortDeadlineMs`: past it the language worker
   * is restarted); later calls on this chat are DISPOSED errors.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const running = this.running;
    const free = () => {
      void this.context.language.closeChat(this.id).catch(() => undefined);
      void this.context.vision.forget(this.id).catch(() => undefined);
    };
    if (!running) return free();
    running.stop.abort();
    void running.settled.finally(free);
  }
}
