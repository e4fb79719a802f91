import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isCorrectAnswer, normaliseAnswer } from '../tokens/answer';
import { parseSamples, TINY_SAMPLE } from './samples';

describe('demo samples', () => {
  it('reads the shipped samples.json: held-out scenes with questions and true answers', () => {
    const json: unknown = JSON.parse(readFileSync(new URL('../../public/samples/samples.json', import.meta.url), 'utf8'));
    const samples = parseSamples(json);
    expect(samples.length).toBeGreaterThanOrEqual(3);
    for (const s of samples) {
      expect(s.file).toMatch(/^scene-.*\.jpg$/);
      expect(s.questions.length).toBeGreaterThan(0);
      for (const q of s.questions) expect(q.answer).not.toBe('');
    }
  });

  it('ignores what is not a samples file instead of throwing', () => {
    expect(parseSamples(null)).toEqual([]);
    expect(parseSamples({ scenes: 'no' })).toEqual([]);
    expect(parseSamples({ scenes: [{ file: 3 }] })).toEqual([]);
    expect(TINY_SAMPLE.questions.every((q) => q.answer === '')).toBe(true);
  });
});

describe('answer scoring (training/vlm/evaluate.py normalise_answer)', () => {
  it('ignores case, punctuation and spaces, nothing else', () => {
    expect(normaliseAnswer('  Red. ')).toBe('red');
    expect(isCorrectAnswer('Left', 'left')).toBe(true);
    expect(isCorrectAnswer('7', '7.')).toBe(true);
    expect(isCorrectAnswer('red circle', 'red')).toBe(false);
    expect(isCorrectAnswer('', 'no')).toBe(false);
  });
});
