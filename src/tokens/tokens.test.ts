import { describe, expect, it } from 'vitest';
import { BUNDLE_DIR, golden, readJson } from '../testing/fixtures';
import { argmax, createSampler, seededRandom } from './sampling';
import { TextStream } from './text-stream';
import { BundleTokenizer } from './tokenizer';

const tokenizer = BundleTokenizer.fromFiles(readJson(`${BUNDLE_DIR}tokenizer.json`), readJson(`${BUNDLE_DIR}tokenizer_config.json`));

describe('tokenizer and chat template (transformers.js, bundle files only)', () => {
  it('renders and tokenizes the prompt exactly as the Python reference', () => {
    const g = golden();
    const messages = [{ role: 'user' as const, content: `<image>\n${g.question}` }];
    expect(tokenizer.renderChat(messages)).toBe(g.prompt_text);
    expect(tokenizer.encodeChat(messages)).toEqual(g.prompt_ids);
  });

  it('decodes the golden answer to the reference text', () => {
    const g = golden();
    expect(tokenizer.decode(g.greedy_ids)).toBe(g.greedy_text);
  });

  it('refuses a tokenizer config without a chat template', () => {
    expect(() => BundleTokenizer.fromFiles(readJson(`${BUNDLE_DIR}tokenizer.json`), {})).toThrow(/no chat_template/);
  });
});

describe('streaming detokenisation', () => {
  it('never emits half a multi-byte character and ends with the full text', () => {
    const text = 'café 🙂 naïve — 東京';
    const ids = tokenizer.encode(text);
    const stream = new TextStream((tokens) => tokenizer.decode(tokens));
    const pieces = ids.map((id) => stream.push(id));
    pieces.push(stream.flush());
    expect(pieces.join('')).toBe(text);
    for (const piece of pieces) expect(piece).not.toContain('\uFFFD');
    // The emoji spans four byte tokens: three of them yield nothing until the fourth lands.
    expect(pieces.filter((p) => p === '').length).toBeGreaterThanOrEqual(3);
  });

  it('flushes an incomplete character at the end instead of dropping it', () => {
    const stream = new TextStream(() => 'ok\uFFFD');
    expect(stream.push(1)).toBe('');
    expect(stream.flush()).toBe('ok\uFFFD');
  });
});

describe('sampling', () => {
  const logits = Float32Array.from([0.1, 2.5, 2.4, -1, 0]);

  it('is greedy by default', () => {
    expect(createSampler()(logits)).toBe(1);
    expect(argmax([-3, -1, -2])).toBe(1);
  });

  it('is reproducible for a seed and stays inside top-k / top-p', () => {
    const a = createSampler({ temperature: 1, seed: 7 });
    const b = createSampler({ temperature: 1, seed: 7 });
    const runA = Array.from({ length: 50 }, () => a(logits));
    expect(Array.from({ length: 50 }, () => b(logits))).toEqual(runA);
    const topK = createSampler({ temperature: 5, topK: 2, seed: 1 });
    for (let i = 0; i < 200; i++) expect([1, 2]).toContain(topK(logits));
    const topP = createSampler({ temperature: 1, topP: 0.5, seed: 3 });
    for (let i = 0; i < 200; i++) expect([1, 2]).toContain(topP(logits));
  });

  it('follows the softmax distribution', () => {
    const pick = createSampler({ temperature: 1, seed: 11 });
    const counts = [0, 0];
    for (let i = 0; i < 4000; i++) counts[pick(Float32Array.from([0, Math.log(3)]))]!++;
    expect(counts[1]! / 4000).toBeGreaterThan(0.72);
    expect(counts[1]! / 4000).toBeLessThan(0.78);
  });

  it('rejects nonsense settings with the accepted range', () => {
    expect(() => createSampler({ temperature: -1 })).toThrow(/temperature must be a finite number >= 0/);
    expect(() => createSampler({ topP: 0 })).toThrow(/topP must be in \(0, 1\]/);
    expect(() => createSampler({ topK: 1.5 })).toThrow(/topK must be an integer/);
    expect(seededRandom(1)()).toBeGreaterThanOrEqual(0);
  });
});
