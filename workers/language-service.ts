import { selectDtypes, type BundleSpec } from '../src/bundle';
import { chooseProvider, configureOrt, startRuntime, gpuBufferBytes, loadModuleSession, type GpuBufferBytes } from '../src/device';
import { KvCache, LanguageModel, generate } from '../src/decoder';
import { expandImageTokens } from '../src/embeddings';
import { LoupeError } from '../src/errors';
import { kvNames } from '../src/models';
import { BundleTokenizer, TextStream, createSampler } from '../src/tokens';
import { CancelRegistry, TaskQueue, requireLoaded } from './cancellation';
import { DeviceWatch } from './device-watch';
import { releaseCallback } from './release';
import type { AskRequest, AskResult, LanguageWorkerApi, ProgressSink, TokenPiece, TokenSink, WorkerLoadRequest, WorkerLoadResult } from './protocol';

interface ChatState {
  features: Float32Array | null;
  visualTokens: number;
  cache: KvCache;
  busy: boolean;
  /** The request answering now, while busy. */
  requestId?: number;
  /** Closed while answering: freed when the answer ends. */
  closing?: boolean;
}

/** Tokens -> embeddings -> decoder -> tokens, inside the language worker. */
export class LanguageService implements LanguageWorkerApi {
  private model: LanguageModel | undefined;
  private tokenizer: BundleTokenizer | undefined;
  private spec: BundleSpec | undefined;
  private readonly chats = new Map<number, ChatState>();
  private readonly cancels = new CancelRegistry();
  private readonly queue = new TaskQueue();
  private readonly device = new DeviceWatch();

  async load(
    request: WorkerLoadRequest & { tokenizerJson: unknown; tokenizerConfig: unknown },
    onProgress: ProgressSink,
  ): Promise<WorkerLoadResult> {
    const startedAt = performance.timeOrigin + performance.now();
    const threads = configureOrt(request.assets);
    // The runtime starts while the graphs download; a failure surfaces where a session awaits it.
    const runtime = startRuntime();
    runtime.catch(() => undefined);
    this.tokenizer = BundleTokenizer.fromFiles(request.tokenizerJson, request.tokenizerConfig);
    const choice = await chooseProvider(request.device);
    const spec = request.spec;
    const dtypes = selectDtypes({ provider: choice.provider, shaderF16: choice.gpu.shaderF16 }, spec.declaredDtypes, request.dtype);
    const common = { baseUrl: spec.baseUrl, choice, cache: request.cache, numLayers: spec.text.numLayers, kv: spec.kv, text: spec.text, externalData: spec.externalData, onProgress: (p: Parameters<ProgressSink>[0]) => onProgress(p) };
    // The cache stays on the GPU between steps, and so do the logits: only their last row is read.
    const gpuOutputs = ['logits', ...kvNames(spec.kv.present, spec.text.numLayers)];
    // Both at once: the decoder downloads while the embeddings' session is created (sessions
    // are created one after the other, loadModuleSession sees to that).
    const [embedResult, decoderResult] = await Promise.allSettled([
      loadModuleSession({ ...common, module: 'embed_tokens', dtype: dtypes.embed_tokens, gpuOutputs: ['inputs_embeds'] }),
      loadModuleSession({ ...common, module: 'decoder_model_merged', dtype: dtypes.decoder_model_merged, gpuOutputs, unpack: request.unpackWeights ?? true }),
    ]);
    if (embedResult.status === 'rejected' || decoderResult.status === 'rejected') {
      for (const result of [embedResult, decoderResult]) if (result.status === 'fulfilled') await result.value.session.release();
      throw embedResult.status === 'rejected' ? embedResult.reason : (decoderResult as PromiseRejectedResult).reason;
    }
    const embed = embedResult.value;
    const decoder = decoderResult.value;
    for (const created of [embed, decoder]) {
      if (choice.reason && created.report.provider === 'wasm' && !created.report.fallbackReason) created.report.fallbackReason = choice.reason;
    }
    this.model = new LanguageModel(spec, embed.session, decoder.session, {
      embedOnGpu: embed.report.provider === 'webgpu',
      decoderOnGpu: decoder.report.provider === 'webgpu',
    });
    if ([embed, decoder].some((created) => created.report.provider === 'webgpu')) await this.device.watch();
    this.spec = spec;
    releaseCallback(onProgress);
    return { modules: [embed.report, decoder.report], gpu: choice.gpu, threads, timings: { startedAt, runtimeMs: await runtime } };
  }

  private chat(chatId: number): ChatState {
    let state = this.chats.get(chatId);
    if (!state) {
      const model = requireLoaded(this.model, 'language model');
      state = { features: null, visualTokens: 0, cache: new KvCache(model.spec.text, model.cacheType, model.spec.kv), busy: false };
      this.chats.set(chatId, state);
    }
    return state;
  }

  setImage(chatId: number, features: Float32Array | null, tokens: number): void {
    const state = this.chat(chatId);
    if (state.busy) throw new LoupeError('BUSY', 'An answer is still streaming in this chat; stop it before changing the image.');
    // The template text before the image stays cached (a zoomed pass, a new image in the chat).
    state.cache.forgetFrom(requireLoaded(this.spec, 'language model').imageTokenId);
    state.features = features;
    state.visualTokens = tokens;
  }

  ask(request: AskRequest, onToken: TokenSink): Promise<AskResult> {
    const state = this.chat(request.chatId);
    if (state.busy) {
      return Promise.reject(
        new LoupeError('BUSY', 'This chat is already answering a question. Wait for the answer or stop it, then ask again.'),
      );
    }
    state.busy = true;
    state.requestId = request.requestId;
    this.cancels.begin(request.requestId);
    return this.queue
      .run(() => this.answer(state, request, onToken))
      .finally(() => {
        releaseCallback(onToken);
        state.busy = false;
        state.requestId = undefined;
        if (state.closing) state.cache.clear();
        this.cancels.end(request.requestId);
      });
  }

  private async answer(state: ChatState, request: AskRequest, onToken: TokenSink): Promise<AskResult> {
    const model = requireLoaded(this.model, 'language model');
    const tokenizer = requireLoaded(this.tokenizer, 'tokenizer');
    const spec = model.spec;
    const prompt = tokenizer.encodeChat(request.messages);
    if (prompt.includes(spec.imageTokenId) && !state.features) {
      throw new LoupeError('IMAGE_REQUIRED', 'The prompt refers to an image but none is set in this chat. Call setImage() first.');
    }
    const expanded = expandImageTokens(prompt, spec.imageTokenId, state.visualTokens);
    const stream = new TextStream((tokens) => tokenizer.decode(tokens));
    // Callbacks travel on their own port; waiting for the last one before answering keeps
    // every piece ahead of the result. Ports deliver in order, so the last one suffices.
    let delivered: unknown = undefined;
    const send = (piece: TokenPiece) => {
      delivered = onToken(piece);
    };
    const result = await generate(model, state.cache, {
      ids: expanded.ids,
      image: expanded.image && state.features ? { span: expanded.image, features: state.features } : undefined,
      maxNewTokens: request.maxNewTokens,
      ...(request.minNewTokens !== undefined ? { minNewTokens: request.minNewTokens } : {}),
      eosTokenIds: spec.generation.eosTokenIds,
      pick: createSampler(request.sampling),
      onToken: (tokenId) => send({ tokenId, text: stream.push(tokenId) }),
      cancelled: () => this.cancels.isCancelled(request.requestId),
      ...(request.evidence ? { evidence: true } : {}),
    });
    const tail = stream.flush();
    if (tail) send({ tokenId: null, text: tail });
    await delivered;
    return { ...result, text: stream.text };
  }

  cancel(requestId: number): void {
    this.cancels.cancel(requestId);
  }

  /** Frees a chat's cache. A chat still answering is cancelled and freed when its answer ends. */
  closeChat(chatId: number): void {
    const state = this.chats.get(chatId);
    if (!state) return;
    this.chats.delete(chatId);
    if (state.busy) {
      state.closing = true;
      if (state.requestId !== undefined) this.cancels.cancel(state.requestId);
      return;
    }
    state.cache.clear();
  }

  gpuBytes(): GpuBufferBytes {
    return gpuBufferBytes();
  }

  async loseGpuDevice(): Promise<boolean> {
    return this.device.lose();
  }

  async dispose(): Promise<void> {
    this.device.release();
    // Not closeChat: it would cancel a running answer, which must settle as DISPOSED (the page
    // ends the worker), not as a cancel that races it.
    for (const state of this.chats.values()) state.cache.clear();
    this.chats.clear();
    await this.model?.release();
    this.model = undefined;
  }
}
