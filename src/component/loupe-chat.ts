import { isLoupeError } from '../errors';
import { loadModel, type LoupeChat, type LoupeModel } from '../engine';
import type { DeviceRequest } from '../device';
import type { PlanOverrides } from '../plan';
import type { StrategyName } from '../bundle';
import { STYLES } from './styles';
import { drawEvidence, toggleZoom, type EvidenceViewState } from './evidence-canvas';
import type { Rect } from '../plan';

/** Events <loupe-chat> dispatches (bubbling, composed), with their `detail`. */
export interface LoupeChatEvents {
  'loupe-progress': import('../bundle').LoadProgress;
  'loupe-token': { text: string; tokenId: number | null };
  'loupe-answer': { question: string; answer: string; stats: import('../engine').AnswerStats | undefined };
  'loupe-error': { code: string; message: string };
}

const TEMPLATE = `
<p class="status" part="status" role="status" aria-live="polite"></p>
<div class="drop" part="dropzone" tabindex="0" role="button" aria-label="Choose, drop or paste an image">
  <span>Drop an image here, or click to choose one</span>
  <input type="file" accept="image/*" hidden />
</div>
<canvas part="evidence" width="480" height="320" hidden aria-label="Where the answer looked"></canvas>
<ol part="conversation" aria-live="polite"></ol>
<form part="form">
  <input type="text" part="question" aria-label="Question" placeholder="Ask about the image" autocomplete="off" />
  <button type="submit" part="ask-button">Ask</button>
  <button type="button" part="stop-button" disabled>Stop</button>
  <label class="toggle" part="evidence-toggle"><input type="checkbox" name="evidence" /> Evidence</label>
</form>`;

/**
 * <loupe-chat model="/models/..." device="auto" strategy="convllava-square">: a self-contained
 * chat about one image. Attributes mirror the knobs; everything streams as DOM events.
 * `evidence`: draw where each answer looked over the image (heat map, toggled in the form,
 * and the top region as a box; clicking the box zooms there). `zoom="auto"`: look closer
 * before answering (`ask(..., { zoom: 'auto' })`).
 */
export class LoupeChatElement extends HTMLElement {
  static observedAttributes = ['model', 'device', 'strategy', 'resolution', 'max-new-tokens', 'evidence', 'zoom'];

  private readonly root: ShadowRoot;
  private model: LoupeModel | undefined;
  private chat: LoupeChat | undefined;
  private loading: Promise<void> | undefined;
  private stopper: AbortController | undefined;
  /** The image as a Blob, for drawing the evidence over it (none: nothing is drawn). */
  private picture: Blob | undefined;
  private evidenceView: EvidenceViewState | undefined;
  private evidenceBox: Rect | undefined;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLES;
    const body = document.createElement('div');
    body.innerHTML = TEMPLATE;
    this.root.append(style, ...body.childNodes);
    this.wire();
  }

  get modelUrl(): string | null {
    return this.getAttribute('model');
  }
  set modelUrl(value: string | null) {
    if (value === null) this.removeAttribute('model');
    else this.setAttribute('model', value);
  }
  get device(): DeviceRequest {
    const value = this.getAttribute('device');
    return value === 'webgpu' || value === 'wasm' ? value : 'auto';
  }
  set device(value: DeviceRequest) {
    this.setAttribute('device', value);
  }
  get strategy(): StrategyName | undefined {
    return (this.getAttribute('strategy') as StrategyName | null) ?? undefined;
  }
  set strategy(value: StrategyName | undefined) {
    if (value === undefined) this.removeAttribute('strategy');
    else this.setAttribute('strategy', value);
  }
  get maxNewTokens(): number {
    return Number(this.getAttribute('max-new-tokens') ?? 128) || 128;
  }
  set maxNewTokens(value: number) {
    this.setAttribute('max-new-tokens', String(value));
  }

  connectedCallback(): void {
    if (this.modelUrl) void this.ensureModel();
  }

  disconnectedCallback(): void {
    this.stopper?.abort();
  }

  attributeChangedCallback(name: string, before: string | null, after: string | null): void {
    if (name === 'evidence') this.$<HTMLInputElement>('input[name="evidence"]').checked = after !== null;
    if (before === after || !this.isConnected) return;
    if (name === 'model' || name === 'device') {
      void this.model?.dispose();
      this.model = undefined;
      this.chat = undefined;
      this.loading = undefined;
      if (this.modelUrl) void this.ensureModel();
    }
  }

  /** The plan knobs the attributes ask for. */
  private overrides(): PlanOverrides {
    const resolution = Number(this.getAttribute('resolution'));
    return { ...(this.strategy ? { strategy: this.strategy } : {}), ...(resolution > 0 ? { resolution } : {}) };
  }

  private $<T extends Element>(selector: string): T {
    return this.root.querySelector(selector) as T;
  }

  private emit<K extends keyof LoupeChatEvents>(type: K, detail: LoupeChatEvents[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  private fail(error: unknown): void {
    const code = isLoupeError(error) ? error.code : 'INTERNAL';
    const message = error instanceof Error ? error.message : String(error);
    this.status(message);
    this.emit('loupe-error', { code, message });
  }

  private status(text: string): void {
    this.$('.status').textContent = text;
  }

  private ensureModel(): Promise<void> {
    const url = this.modelUrl;
    if (!url) return Promise.reject(new Error('Set the model attribute to a bundle URL.'));
    this.loading ??= (async () => {
      this.status('Loading the model…');
      try {
        this.model = await loadModel(url, { device: this.device, onProgress: (p) => this.emit('loupe-progress', p) });
        this.chat = this.model.chat();
        this.status('Ready: choose an image.');
      } catch (error) {
        this.loading = undefined;
        this.fail(error);
        throw error;
      }
    })();
    return this.loading;
  }

  /** Sets the image the conversation is about. */
  async setImage(image: import('../engine').ImageInput): Promise<void> {
    await this.ensureModel();
    this.status('Reading the image…');
    try {
      const summary = await this.chat!.setImage(image, this.overrides());
      this.picture = image instanceof Blob ? image : undefined;
      this.evidenceView = undefined;
      this.$<HTMLCanvasElement>('canvas').hidden = true;
      this.$('ol').replaceChildren();
      this.status(`${summary.plan.imageWidth}×${summary.plan.imageHeight}, ${summary.visualTokens} visual tokens. Ask a question.`);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Asks a question; the answer streams into the conversation and as loupe-token events. */
  async ask(question: string): Promise<string> {
    await this.ensureModel();
    const list = this.$('ol');
    const user = document.createElement('li');
    user.className = 'user';
    user.setAttribute('part', 'message user-message');
    user.textContent = question;
    const answer = document.createElement('li');
    answer.className = 'assistant';
    answer.setAttribute('part', 'message answer');
    list.append(user, answer);
    this.stopper = new AbortController();
    this.$<HTMLButtonElement>('[part="stop-button"]').disabled = false;
    try {
      const zoom = this.getAttribute('zoom') === 'auto';
      const evidence = this.picture !== undefined && this.$<HTMLInputElement>('input[name="evidence"]').checked;
      const options = { maxNewTokens: this.maxNewTokens, signal: this.stopper.signal, ...(zoom ? { zoom: 'auto' as const } : {}), ...(evidence ? { evidence: true } : {}) };
      for await (const piece of this.chat!.ask(question, options)) {
        answer.textContent += piece.text; // text only: no HTML from the model reaches the DOM
        this.emit('loupe-token', piece);
      }
      await this.showEvidence();
    } catch (error) {
      if (!isLoupeError(error, 'ABORTED')) this.fail(error);
    } finally {
      this.stopper = undefined;
      this.$<HTMLButtonElement>('[part="stop-button"]').disabled = true;
    }
    const text = answer.textContent ?? '';
    this.emit('loupe-answer', { question, answer: text, stats: this.chat!.stats });
    return text;
  }

  /** The last answer's evidence over the image, when there is a picture and evidence or zoom was asked for. */
  private async showEvidence(): Promise<void> {
    const canvas = this.$<HTMLCanvasElement>('canvas');
    const evidence = this.chat?.evidence;
    if (!evidence || !this.picture) {
      canvas.hidden = true;
      this.evidenceView = undefined;
      return;
    }
    this.evidenceView = { evidence, heat: this.$<HTMLInputElement>('input[name="evidence"]').checked, view: undefined };
    canvas.hidden = false;
    this.evidenceBox = await drawEvidence(canvas, this.picture, this.evidenceView).catch(() => undefined);
  }

  private redrawEvidence(): void {
    if (!this.evidenceView || !this.picture) return;
    void drawEvidence(this.$<HTMLCanvasElement>('canvas'), this.picture, this.evidenceView).then((box) => (this.evidenceBox = box));
  }

  /** Stops the answer that is streaming, within one token. */
  stop(): void {
    this.stopper?.abort();
  }

  private wire(): void {
    const drop = this.$<HTMLElement>('.drop');
    const file = this.$<HTMLInputElement>('input[type="file"]');
    drop.addEventListener('click', () => file.click());
    drop.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        file.click();
      }
    });
    drop.addEventListener('dragover', (event) => event.preventDefault());
    drop.addEventListener('drop', (event) => {
      event.preventDefault();
      const dropped = event.dataTransfer?.files[0];
      if (dropped) void this.setImage(dropped);
    });
    file.addEventListener('change', () => {
      const chosen = file.files?.[0];
      if (chosen) void this.setImage(chosen);
    });
    this.addEventListener('paste', (event) => {
      const pasted = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
      if (pasted) void this.setImage(pasted);
    });
    this.$<HTMLFormElement>('form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = this.$<HTMLInputElement>('input[type="text"]');
      if (input.value.trim() && !this.stopper) void this.ask(input.value.trim());
    });
    this.$<HTMLButtonElement>('[part="stop-button"]').addEventListener('click', () => this.stop());
    const canvas = this.$<HTMLCanvasElement>('canvas');
    canvas.addEventListener('click', (event) => {
      if (this.evidenceView && toggleZoom(this.evidenceView, this.evidenceBox, canvas, event)) this.redrawEvidence();
    });
    this.$<HTMLInputElement>('input[name="evidence"]').addEventListener('change', (event) => {
      if (!this.evidenceView) return;
      this.evidenceView.heat = (event.target as HTMLInputElement).checked;
      this.redrawEvidence();
    });
  }
}
