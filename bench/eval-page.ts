/**
 * `npm run eval`, in the page: the held-out questions through Loupe, exactly as an app asks
 * them (one chat per image, greedy, at most 8 new tokens), scored like
 * training/vlm/evaluate.py scores PyTorch: exact match after normalising case, whitespace and
 * punctuation. Driven by bench/eval.mjs.
 */
import { loadModel, type DtypeChoice, type PlanOverrides } from '../src';
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
}

const MAX_NEW_TOKENS = 8;
const LETTERS = 'ABCDEFGH';


/** training/vlm/data.py question_text: a multiple-choice item lists its options in V* format. */
export function questionText(q: Pick<EvalQuestion, 'question' | 'options'>): string {
  if (!q.options || q.question.includes('(A)')) return q.question;
  const listed = q.options.map((o, i) => `(${LETTERS[i]}) ${o}`).join('\n');
  return `${q.question}\n${listed}\nAnswer with the option's letter from the given choices directly.`;
}

/** '768' | '1536' | 'native' -> Loupe's plan overrides (the same plans as the Python tool). */
export function strategyFor(resolution: string, tokenBudget: number): { strategy: string; overrides: PlanOverrides } {
  if (resolution === 'native') return { strategy: 'convllava-native', overrides: { strategy: 'convllava-native', tokenBudget } };
  return { strategy: 'convllava-square', overrides: { strategy: 'convllava-square', resolution: Number(resolution) } };
}

export async function runEval(o: {
  bundle: string;
  device: 'wasm' | 'webgpu';
  base: string;
  questions: EvalQuestion[];
  resolutions: string[];
  tokenBudget: number;
  dtype?: DtypeChoice;
}): Promise<{ items: EvalItem[]; model: string; dtypes: Record<string, string> }> {
  const model = await loadModel(o.bundle, { device: o.device, cache: false, ...(o.dtype ? { dtype: o.dtype } : {}) });
  const items: EvalItem[] = [];
  try {
    for (const resolution of o.resolutions) {
      const { strategy, overrides } = strategyFor(resolution, o.tokenBudget);
      for (const q of o.questions) {
        const chat = model.chat();
        try {
          await chat.setImage(`${o.base}${q.image}`, overrides);
          let prediction = '';
          for await (const piece of chat.ask(questionText(q), { maxNewTokens: MAX_NEW_TOKENS })) prediction += piece.text;
          prediction = prediction.trim();
          items.push({ index: q.index, type: q.type, strategy, resolution, question: questionText(q), answer: q.answer, prediction, correct: isCorrectAnswer(prediction, q.answer) });
        } finally {
          chat.close();
        }
      }
    }
    const dtypes = moduleDtypes(model.info);
    return { items, model: o.bundle.split('/').filter(Boolean).pop() ?? o.bundle, dtypes };
  } finally {
    await model.dispose();
  }
}
