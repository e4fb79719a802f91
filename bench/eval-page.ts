/**
 * `npm run eval`, in the page: the held-out questions through Loupe, exactly as an app asks
 * them (one chat per image, greedy, at most 8 new tokens), scored like
 * training/vlm/evaluate.py scores PyTorch: exact match after normalising case, whitespace and
 * punctuation. Driven by bench/eval.mjs.
 */
import { loadModel, type DtypeChoice, type PlanOverrides, type Rect, type ZoomRequest, type ZoomStats, type AnswerEvidence, zoomWindow } from '../src';
import { isCorrectAnswer } from '../src/tokens/answer';
import { moduleDtypes } from './module-dtypes';

export interface EvalQuestion {
  id: string;
  index: number;
  image: string;
  question: string;
  answer: string;
  type: string;
  options: string[] | null;
  /** The asked objects' boxes [x0, y0, x1, y1] in image pixels (the generator's ground truth). */
  target_bboxes?: number[][];
}

export interface EvalItem {
  index: number;
  type: string;
  strategy: string;
  resolution: string;
  question: string;
  answer: string;
  prediction: string;
  correct: boolean;
  /** The answer's confidence (geometric mean of its tokens' probabilities). */
  confidence: number;
  /** Wall time of setImage + ask, ms. */
  ms: number;
  /** The image's preprocessing and vision-graph time, ms, and the visual tokens it gave (setImage's summary). */
  preprocessMs: number;
  encodeMs: number;
  visualTokens: number;
  /** Zoomed runs: the region, the passes' times, and how much of the asked objects' boxes the region holds (0-1). */
  zoom?: (Omit<ZoomStats, 'visualTokens'> & { targetInside: number; firstCorrect: boolean; peak?: number; windowCells?: number }) | null;
}

/** '--zoom' values: off, auto, or auto:key=value,... (mass, minSide, keepGlobal, resolution: 1536 or 1024+1536, sureAbove, margin). */
export function zoomFor(label: string): ZoomRequest | undefined {
  if (label === 'off') return undefined;
  const [, knobs = ''] = label.split(':');
  const request: ZoomRequest = {};
  for (const pair of knobs.split(',').filter(Boolean)) {
    const [key, value] = pair.split('=');
    if (key === 'keepGlobal') request.keepGlobal = value === 'true';
    else if (key === 'resolution') request.resolution = value!.split('+').map(Number);
    else if (key === 'mass' || key === 'minSide' || key === 'sureAbove' || key === 'margin') request[key] = Number(value);
    else throw new Error(`--zoom: unknown knob ${key}`);
  }
  return request;
}

/** How concentrated the first pass's evidence was: its largest token share and the cells of its half-mass window. */
function spread(evidence: AnswerEvidence | undefined): { peak: number; windowCells: number } | Record<string, never> {
  const cell = evidence?.boxes.find((b) => b.cell)?.cell;
  if (!evidence || !cell) return {};
  const own = evidence.scores.slice(0, cell.cols * cell.rows);
  const window = zoomWindow(own, cell.cols, cell.rows, 0.5);
  return { peak: Math.max(...own), windowCells: window ? window.cols * window.rows : 0 };
}

/** The share of the boxes' area inside `region`. */
function areaInside(boxes: number[][], region: Rect): number {
  let inside = 0;
  let total = 0;
  for (const [x0, y0, x1, y1] of boxes as [number, number, number, number][]) {
    const w = Math.max(0, Math.min(x1, region.x + region.width) - Math.max(x0, region.x));
    const h = Math.max(0, Math.min(y1, region.y + region.height) - Math.max(y0, region.y));
    inside += w * h;
    total += (x1 - x0) * (y1 - y0);
  }
  return total > 0 ? inside / total : 0;
}

const MAX_NEW_TOKENS = 8;
const LETTERS = 'ABCDEFGH';


/** training/vlm/data.py question_text: a multiple-choice item lists its options in V* format. */
/** What identifies an item within one evaluation (the split and bundle are the run's). */
export function itemKey(item: Pick<EvalItem, 'index' | 'strategy' | 'resolution'>): string {
  return `${item.index}|${item.strategy}|${item.resolution}`;
}

export function questionText(q: Pick<EvalQuestion, 'question' | 'options'>): string {
  if (!q.options || q.question.includes('(A)')) return q.question;
  const listed = q.options.map((o, i) => `(${LETTERS[i]}) ${o}`).join('\n');
  return `${q.question}\n${listed}\nAnswer with the option's letter from the given choices directly.`;
}

/**
 * A --resolution token -> the strategy and resolution labels training/vlm/evaluate.py writes for
 * the same plan, and Loupe's plan overrides: '768' | '1536' | 'native' (ConvLLaVA), 'mc16x576'
 * (MC-LLaVA's max_crops x num_tokens), 'pyramid1536' (PIIP, low branch at half), 'vit336' (the
 * ViT control's padded square).
 */
export function strategyFor(token: string, tokenBudget: number): { strategy: string; resolution: string; overrides: PlanOverrides } {
  if (token === 'native') return { strategy: 'convllava-native', resolution: token, overrides: { strategy: 'convllava-native', tokenBudget } };
  const knobs = /^mc(\d+)x(\d+)$/.exec(token);
  if (knobs) return { strategy: 'multicrop', resolution: token, overrides: { strategy: 'multicrop', maxCrops: Number(knobs[1]), numTokens: Number(knobs[2]) } };
  const pyramid = /^pyramid(\d+)$/.exec(token);
  if (pyramid) return { strategy: 'pyramid-square', resolution: token, overrides: { strategy: 'pyramid', resolution: Number(pyramid[1]), lowResolution: Number(pyramid[1]) / 2 } };
  const vit = /^vit(\d+)$/.exec(token);
  if (vit) return { strategy: 'vit-square', resolution: vit[1]!, overrides: { strategy: 'pad-square', resolution: Number(vit[1]) } };
  return { strategy: 'convllava-square', resolution: token, overrides: { strategy: 'convllava-square', resolution: Number(token) } };
}

export async function runEval(o: {
  bundle: string;
  device: 'wasm' | 'webgpu';
  base: string;
  questions: EvalQuestion[];
  resolutions: string[];
  tokenBudget: number;
  dtype?: DtypeChoice;
  zooms?: string[];
  /** `itemKey`s already scored by an interrupted run of the same evaluation: not asked again. */
  done?: string[];
}): Promise<{ items: EvalItem[]; model: string; dtypes: Record<string, string> }> {
  const done = new Set(o.done ?? []);
  const model = await loadModel(o.bundle, { device: o.device, cache: false, ...(o.dtype ? { dtype: o.dtype } : {}) });
  const items: EvalItem[] = [];
  try {
    for (const label of o.zooms ?? ['off']) {
      const zoom = zoomFor(label);
      for (const token of o.resolutions) {
        const planned = strategyFor(token, o.tokenBudget);
        const resolution = planned.resolution;
        const strategy = zoom ? `${planned.strategy}+zoom${label === 'auto' ? '' : label.slice(4)}` : planned.strategy;
        for (const q of o.questions) {
          if (done.has(itemKey({ index: q.index, strategy, resolution }))) continue;
          const chat = model.chat();
          try {
            const started = performance.now();
            const image = await chat.setImage(`${o.base}${q.image}`, planned.overrides);
            let prediction = '';
            for await (const piece of chat.ask(questionText(q), { maxNewTokens: MAX_NEW_TOKENS, ...(zoom ? { zoom } : {}) })) prediction += piece.text;
            prediction = prediction.trim();
            const z = chat.stats?.zoom;
            const zoomed = zoom ? (z ? { ...z, targetInside: z.region ? areaInside(q.target_bboxes ?? [], z.region) : 0, firstCorrect: isCorrectAnswer(z.firstAnswer.trim(), q.answer), ...spread(chat.evidence) } : null) : undefined;
            const item: EvalItem = {
              index: q.index, type: q.type, strategy, resolution, question: questionText(q), answer: q.answer, prediction,
              correct: isCorrectAnswer(prediction, q.answer), ms: performance.now() - started, confidence: chat.stats?.confidence ?? 0,
              preprocessMs: image.preprocessMs, encodeMs: image.encodeMs, visualTokens: image.visualTokens, ...(zoomed !== undefined ? { zoom: zoomed } : {}),
            };
            items.push(item);
            // eval.mjs keeps each item as it is scored, so a stopped run resumes instead of starting over.
            await window.loupeEvalItem?.(item);
          } finally {
            chat.close();
          }
        }
      }
    }
    const dtypes = moduleDtypes(model.info);
    return { items, model: o.bundle.split('/').filter(Boolean).pop() ?? o.bundle, dtypes };
  } finally {
    await model.dispose();
  }
}
