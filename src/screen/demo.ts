import { isLoupeError, loadModel, planImage, planOverlay, type ImagePlan, type LoupeChat, type LoupeModel, type PlanOverrides, type Rect } from '..';
import { formatModel, formatProgress, formatStats } from './format';
import { describeStorage, makeAvailableOffline, registerOfflineShell } from './offline';
import { loadSamples, TINY_SAMPLE, type Sample } from './samples';
import { SHIPPED_BUNDLES, bundlesTaking } from './bundles';
import { isCorrectAnswer } from '../tokens/answer';
import { drawEvidence, toggleZoom, type EvidenceViewState } from '../component/evidence-canvas';

// Which deploy is running (set VITE_BUILD_ID when building); shown so an update is visible.
document.getElementById('build')!.textContent = `build ${(import.meta.env.VITE_BUILD_ID as string | undefined) ?? (import.meta.env.DEV ? 'dev' : 'local')}`;

/** The static demo: load a bundle, pick an image, ask, watch the answer stream. */

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const modelForm = $<HTMLFormElement>('model-form');
const modelStatus = $('model-status');
const askForm = $<HTMLFormElement>('ask-form');
const askButton = $<HTMLButtonElement>('ask');
const stopButton = $<HTMLButtonElement>('stop');
const question = $<HTMLInputElement>('question');
const conversation = $('conversation');
const stats = $('stats');
const imageStatus = $('image-status');
const preview = $<HTMLCanvasElement>('preview');
const drop = $('drop');
const params = new URLSearchParams(location.search);

let model: LoupeModel | undefined;
let chat: LoupeChat | undefined;
let hasImage = false;
/** The image being encoded: a question asked meanwhile waits for it instead of going without. */
let imagePending: Promise<void> | undefined;
let stopper: AbortController | undefined;

function describe(error: unknown): string {
  if (isLoupeError(error)) return error.message;
  return error instanceof Error ? error.message : String(error);
}

function refresh(): void {
  askButton.disabled = !chat || stopper !== undefined;
  stopButton.disabled = stopper === undefined;
}

function addTurn(role: 'user' | 'assistant' | 'error', text: string): HTMLLIElement {
  const item = document.createElement('li');
  item.className = role;
  // Model output is text, never HTML.
  item.textContent = text;
  conversation.append(item);
  item.scrollIntoView({ block: 'nearest' });
  return item;
}

async function load(url: string, device: 'auto' | 'webgpu' | 'wasm'): Promise<void> {
  await model?.dispose();
  model = undefined;
  chat = undefined;
  refresh();
  try {
    model = await loadModel(url, { device, onProgress: (p) => (modelStatus.textContent = formatProgress(p)) });
    chat = model.chat();
    hasImage = false;
    conversation.replaceChildren();
    modelStatus.textContent = formatModel(model.info);
    const pick = $<HTMLSelectElement>('model-pick');
    pick.value = [...pick.options].some((o) => o.value === url) ? url : '';
    $<HTMLButtonElement>('offline').disabled = false;
    $('storage').textContent = await describeStorage(model.info.baseUrl);
  } catch (error) {
    modelStatus.textContent = `Could not load the model: ${describe(error)}`;
  }
  refresh();
}

let currentImage: { blob: Blob; name: string; width: number; height: number } | undefined;

function planOverrides(): PlanOverrides {
  const strategy = $<HTMLSelectElement>('strategy').value;
  const resolution = Number($<HTMLInputElement>('resolution').value);
  const budget = Number($<HTMLInputElement>('budget').value);
  const maxCrops = $<HTMLInputElement>('max-crops').value;
  const numTokens = Number($<HTMLInputElement>('num-tokens').value);
  return {
    ...(strategy ? { strategy: strategy as PlanOverrides['strategy'] } : {}),
    ...(resolution > 0 ? { resolution, tileSize: resolution } : {}),
    ...(budget > 0 ? { tokenBudget: budget } : {}),
    ...(maxCrops !== '' && Number(maxCrops) >= 0 ? { maxCrops: Number(maxCrops) } : {}),
    ...(numTokens > 0 ? { numTokens } : {}),
  };
}

function summarisePlan(plan: ImagePlan): string {
  const inputs = `${plan.inputs.length} input${plan.inputs.length === 1 ? '' : 's'}`;
  return `${plan.strategy}: ${inputs}, ${plan.totalTokens} visual tokens.${plan.notes.length ? ` ${plan.notes.join(' ')}` : ''}`;
}

/**
 * The plan is pure geometry, so it is redrawn at once as the knobs move; the image is
 * re-encoded after, when the user settles.
 */
function previewPlan(): void {
  if (!currentImage || !model) return;
  try {
    const plan = planImage(currentImage.width, currentImage.height, model.info.spec.image.loupe, planOverrides());
    void showPreview(currentImage.blob, plan);
    $('plan-summary').textContent = summarisePlan(plan);
  } catch (error) {
    $('plan-summary').textContent = describe(error);
  }
}

/** The image with what the model sees drawn over it: one box per planned input. */
async function showPreview(blob: Blob, plan: ImagePlan): Promise<void> {
  const bitmap = await createImageBitmap(blob);
  const scale = Math.min(preview.width / bitmap.width, preview.height / bitmap.height);
  const context = preview.getContext('2d')!;
  context.clearRect(0, 0, preview.width, preview.height);
  context.drawImage(bitmap, 0, 0, bitmap.width * scale, bitmap.height * scale);
  bitmap.close();
  context.lineWidth = 2;
  context.font = '12px system-ui, sans-serif';
  const labelled = new Map<string, number>();
  for (const box of planOverlay(plan)) {
    context.strokeStyle = box.role === 'global' || box.role === 'thumbnail' ? 'rgb(255 200 0 / 0.9)' : `hsl(${(box.index * 67) % 360} 90% 55%)`;
    context.strokeRect(box.x * scale + 1, box.y * scale + 1, box.width * scale - 2, box.height * scale - 2);
    // Inputs over the same rectangle (a pyramid's two branches) stack their labels.
    const corner = `${box.x},${box.y}`;
    const row = labelled.get(corner) ?? 0;
    labelled.set(corner, row + 1);
    context.fillStyle = 'rgb(0 0 0 / 0.6)';
    const where = box.coord ? ` @(${box.coord[0].toFixed(2)}, ${box.coord[1].toFixed(2)})` : '';
    const label = `${box.role}${where} ${box.outputWidth}×${box.outputHeight} · ${box.tokens} tok`;
    const y = box.y * scale + 2 + row * 17;
    context.fillRect(box.x * scale + 2, y, context.measureText(label).width + 8, 16);
    context.fillStyle = '#fff';
    context.fillText(label, box.x * scale + 6, y + 12);
  }
}

/** The last answer's evidence over the preview, while the toggle is on; clicking its box zooms there and back. */
let evidenceView: EvidenceViewState | undefined;
let evidenceBox: Rect | undefined;

async function showEvidence(): Promise<void> {
  const evidence = chat?.evidence;
  const heat = $<HTMLInputElement>('evidence-toggle').checked;
  if (!evidence || !currentImage || (!heat && !chat?.stats?.zoom)) {
    evidenceView = undefined;
    evidenceBox = undefined;
    return;
  }
  evidenceView = { evidence, heat, view: undefined };
  await redrawEvidence();
}

async function redrawEvidence(): Promise<void> {
  if (evidenceView && currentImage) evidenceBox = await drawEvidence(preview, currentImage.blob, evidenceView).catch(() => undefined);
}

preview.addEventListener('click', (event) => {
  if (!evidenceView || !currentImage || !toggleZoom(evidenceView, evidenceBox, preview, event)) return;
  void redrawEvidence();
});
$('evidence-toggle').addEventListener('change', () => {
  if (!evidenceView || !currentImage) return;
  evidenceView.heat = $<HTMLInputElement>('evidence-toggle').checked;
  void redrawEvidence();
});

async function useImage(blob: Blob, name: string): Promise<void> {
  if (!chat) {
    imageStatus.textContent = 'Load a model first.';
    return;
  }
  imageStatus.textContent = `Encoding ${name}…`;
  const done = setImageOn(chat, blob, name);
  imagePending = done;
  await done;
  if (imagePending === done) imagePending = undefined;
}

async function setImageOn(chat: LoupeChat, blob: Blob, name: string): Promise<void> {
  try {
    const summary = await chat.setImage(blob, planOverrides());
    currentImage = { blob, name, width: summary.plan.imageWidth, height: summary.plan.imageHeight };
    evidenceView = undefined;
    evidenceBox = undefined;
    $('strategy-offer').replaceChildren();
    $('plan-summary').textContent = summarisePlan(summary.plan);
    await showPreview(blob, summary.plan).catch(() => undefined);
    hasImage = true;
    conversation.replaceChildren();
    const input = summary.plan.inputs[0]!;
    const crop = input.window ? ` → ${input.window.width}×${input.window.height} crop` : '';
    imageStatus.textContent =
      `${name}: ${summary.plan.imageWidth}×${summary.plan.imageHeight} → ${input.width}×${input.height}${crop} (${summary.plan.strategy}), ` +
      `${summary.visualTokens} visual tokens, encoded in ${summary.encodeMs.toFixed(0)} ms.` +
      (summary.plan.notes.length ? ` ${summary.plan.notes.join(' ')}` : '');
  } catch (error) {
    imageStatus.textContent = `That image could not be used: ${describe(error)}`;
    offerBundles(error, blob, name);
  }
}

/**
 * A strategy this bundle's vision graph cannot take (its recipe feeds inputs the graph
 * lacks): name the shipped bundles that can, and switch to one with the same image.
 */
function offerBundles(error: unknown, blob: Blob, name: string): void {
  const offer = $('strategy-offer');
  offer.replaceChildren();
  const fed = isLoupeError(error, 'INVALID_ARGUMENT') ? error.details.fed : undefined;
  if (!Array.isArray(fed)) return;
  const able = bundlesTaking(fed as string[]);
  const text = document.createElement('p');
  text.className = 'note';
  text.textContent = able.length
    ? `This strategy needs a vision graph taking ${fed.join(' + ')}. Shipped bundles that have one:`
    : `No shipped bundle has a vision graph taking ${fed.join(' + ')}.`;
  offer.append(
    text,
    ...able.map((bundle) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `Switch to ${bundle.label}`;
      button.addEventListener('click', () => {
        offer.replaceChildren();
        const url = new URL(bundle.path, document.baseURI).pathname;
        $<HTMLInputElement>('model-url').value = url;
        void load(url, $<HTMLSelectElement>('device').value as 'auto' | 'webgpu' | 'wasm').then(() => useImage(blob, name));
      });
      return button;
    }),
  );
}

/** A sample's known answer beside the model's, marked right or wrong. */
function showTruth(answer: HTMLLIElement, truth: string): void {
  const right = isCorrectAnswer(answer.textContent ?? '', truth);
  const mark = document.createElement('li');
  mark.className = `truth ${right ? 'right' : 'wrong'}`;
  mark.textContent = `${right ? '✓ right' : '✗ wrong'} (truth: ${truth})`;
  answer.after(mark);
}

/**
 * An error in the conversation. A crashed worker gets a button that restarts it (the chat
 * keeps its image and history); a lost GPU device restarts by itself.
 */
function showFailure(error: unknown): void {
  const item = addTurn('error', describe(error));
  if (!isLoupeError(error, 'WORKER_CRASHED') || !model) return;
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Restart the model';
  const failed = model;
  button.addEventListener('click', () => {
    button.disabled = true;
    failed.recover().then(
      () => (item.textContent = 'The model was restarted; the conversation and image are kept. Ask again.'),
      (again: unknown) => (item.textContent = `The model could not be restarted: ${describe(again)}`),
    );
  });
  item.append(' ', button);
}

async function ask(text: string): Promise<void> {
  if (!chat || !text.trim()) return;
  stopper = new AbortController();
  refresh();
  addTurn('user', text);
  const answer = addTurn('assistant', '');
  answer.setAttribute('aria-busy', 'true');
  try {
    const zoom = $<HTMLInputElement>('zoom-toggle').checked;
    const evidence = $<HTMLInputElement>('evidence-toggle').checked;
    const options = { maxNewTokens: 64, signal: stopper.signal, ...(zoom ? { zoom: 'auto' as const } : {}), ...(evidence && hasImage ? { evidence: true } : {}) };
    for await (const piece of chat.ask(text, options)) answer.textContent += piece.text;
    stats.textContent = chat.stats ? formatStats(chat.stats) : '';
    await showEvidence();
    const truth = currentSample?.questions.find((q) => q.question === text.trim())?.answer;
    if (truth) showTruth(answer, truth);
  } catch (error) {
    if (isLoupeError(error, 'ABORTED')) {
      answer.textContent += ' [stopped]';
      stats.textContent = chat.stats ? formatStats(chat.stats) : '';
    } else {
      showFailure(error);
    }
  } finally {
    answer.removeAttribute('aria-busy');
    stopper = undefined;
    refresh();
  }
}

modelForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(modelForm);
  void load(String(data.get('url')), String(data.get('device')) as 'auto' | 'webgpu' | 'wasm');
});
askForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = question.value;
  void (async () => {
    if (imagePending) {
      const note = addTurn('error', 'Waiting for the image to finish encoding…');
      await imagePending;
      note.remove();
    }
    if (!hasImage) addTurn('error', 'No image yet: the question is answered from text alone.');
    await ask(text);
  })();
});
stopButton.addEventListener('click', () => stopper?.abort());
$('offline').addEventListener('click', () => {
  if (model) void makeAvailableOffline(model.info.baseUrl).then((text) => ($('storage').textContent = text));
});
$('plan-form').addEventListener('input', previewPlan);
$('plan-form').addEventListener('change', () => {
  previewPlan();
  if (currentImage && !stopper) void useImage(currentImage.blob, currentImage.name);
});
for (const id of ['file', 'camera']) {
  $<HTMLInputElement>(id).addEventListener('change', (event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (file) void useImage(file, file.name);
  });
}

/** Samples ship with the questions worth asking about them, and their true answers. */
const samplePick = $<HTMLSelectElement>('sample-pick');
let samples: Sample[] = [TINY_SAMPLE];
let currentSample: Sample | undefined;

function showSuggestions(sample: Sample): void {
  const box = $('suggestions');
  box.replaceChildren(
    ...sample.questions.map(({ question: text }) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'chip';
      button.textContent = text;
      button.addEventListener('click', () => {
        question.value = text;
        question.focus();
      });
      return button;
    }),
  );
}

async function fillSamples(): Promise<void> {
  samples = await loadSamples(document.baseURI);
  samplePick.replaceChildren(...samples.map((s, i) => new Option(s.label, String(i))));
  const wanted = params.get('sample');
  const index = wanted ? samples.findIndex((s) => s.file === wanted) : 0;
  samplePick.value = String(Math.max(0, index));
}

$('sample').addEventListener('click', () => {
  const sample = samples[Number(samplePick.value)] ?? TINY_SAMPLE;
  void fetch(new URL(`samples/${sample.file}`, document.baseURI))
    .then((r) => r.blob())
    .then((blob) => useImage(blob, sample.file))
    .then(() => {
      currentSample = sample;
      showSuggestions(sample);
    });
});
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  const file = event.dataTransfer?.files[0];
  if (file) void useImage(file, file.name);
});
drop.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    $<HTMLInputElement>('file').click();
  }
});
window.addEventListener('paste', (event) => {
  const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
  if (file) void useImage(file, 'pasted image');
});

const modelPick = $<HTMLSelectElement>('model-pick');
modelPick.replaceChildren(new Option('(URL below)', ''), ...SHIPPED_BUNDLES.map((b) => new Option(b.label, new URL(b.path, document.baseURI).pathname)));
modelPick.addEventListener('change', () => {
  if (modelPick.value) $<HTMLInputElement>('model-url').value = modelPick.value;
});

// ?model=URL&device=wasm|webgpu|auto&sample=FILE choose what the page starts with.
const modelUrl = params.get('model');
if (modelUrl) $<HTMLInputElement>('model-url').value = modelUrl;
const startDevice = params.get('device');
const device = startDevice === 'webgpu' || startDevice === 'wasm' ? startDevice : 'auto';
$<HTMLSelectElement>('device').value = device;
const startUrl = $<HTMLInputElement>('model-url').value;
modelPick.value = [...modelPick.options].some((o) => o.value === startUrl) ? startUrl : '';
void fillSamples();
void load($<HTMLInputElement>('model-url').value, device);

// A new deploy reloads the page only when nothing would be lost; during a conversation it
// waits for the user.
registerOfflineShell(
  () => !hasImage && !imagePending && !stopper && conversation.childElementCount === 0,
  (update) => {
    const note = $('update');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Reload now';
    button.addEventListener('click', update);
    note.replaceChildren('A new version of Loupe is ready; your conversation stays until you reload. ', button);
    note.hidden = false;
  },
);
