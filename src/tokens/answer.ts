/**
 * How an answer is scored against the truth, the same as training/vlm/evaluate.py
 * normalise_answer: case, punctuation and whitespace do not count.
 */
export function normaliseAnswer(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}_\s]/gu, ' ').split(/\s+/).filter(Boolean).join(' ');
}

export function isCorrectAnswer(prediction: string, truth: string): boolean {
  return normaliseAnswer(prediction) === normaliseAnswer(truth);
}
