import { describe, expect, it } from 'vitest';
import { LoupeError } from '../errors';
import type { ChatMessage } from '../tokens';
import type { AskRequest, TokenPiece } from '../../workers/protocol';
import { LoupeChat, type ChatContext } from './chat';

/**
 * The chat's own logic against in-process stand-ins for the two workers: option checks
 * before anything starts, an image that cannot fit refused at setImage, and a history
 * trimmed instead of a dead chat (the workers' real behaviour is tested in the browser).
 */
const CONTEXT = 64;

function fakeContext(visualTokens = 8) {
  const asked: ChatMessage[][] = [];
  const images: number[] = [];
  const overdue: string[] = [];
  let id = 0;
  let generation = 0;
  /** When set, ask() ignores its cancel (a session.run that cannot stop) until the worker is restarted. */
  let ignoreCancel = false;
  let restart: (error: LoupeError) => void = () => undefined;
  const language = {
    // One position per character, as if every character were a token: too long -> PROMPT_TOO_LONG.
    async ask(request: AskRequest, onToken: (piece: TokenPiece) => void) {
      if (ignoreCancel) await new Promise((_, reject) => (restart = reject));
      const length = request.messages.reduce((n, m) => n + m.content.length, 0);
      if (length > CONTEXT) throw new LoupeError('PROMPT_TOO_LONG', `needs ${length}`);
      asked.push(request.messages);
      onToken({ tokenId: 1, text: 'ok' });
      return { text: 'ok', tokenIds: [1], stopReason: 'eos', promptTokens: length, reusedTokens: 0, prefillMs: 1, decodeMs: 1, kvCacheLocation: 'cpu', logitsReadBytes: 0 };
    },
    async setImage(_chat: number, _features: Float32Array | null, tokens: number) {
      images.push(tokens);
    },
    async cancel() {},
    async closeChat() {},
  };
  const vision = {
    async encode() {
      return { features: new Float32Array(visualTokens * 4), tokens: visualTokens, hidden: 4, plan: {}, decodeMs: 0, preprocessMs: 0, encodeMs: 0, workingBytes: 0 };
    },
    async cancel() {},
  };
  const context = {
    vision,
    language,
    providers: { vision_encoder: 'wasm', embed_tokens: 'wasm', decoder_model_merged: 'wasm' },
    nextRequestId: () => ++id,
    imageToken: '<image>',
    contextLength: CONTEXT,
    languageGeneration: () => generation,
    abortDeadlineMs: 50,
    stopOverdue: (role: string, what: string) => {
      overdue.push(`${role}: ${what}`);
      ignoreCancel = false;
      generation++;
      restart(new LoupeError('ABORTED', `${what} did not stop; the worker was restarted.`));
    },
  } as unknown as ChatContext;
  const restartLanguage = () => generation++;
  return { context, asked, images, overdue, restartLanguage, hangNextAsk: () => (ignoreCancel = true) };
}

async function answer(chat: LoupeChat, question: string, options = {}): Promise<string> {
  let text = '';
  for await (const piece of chat.ask(question, options)) text += piece.text;
  return text;
}

describe('LoupeChat', () => {
  it.each([
    ['maxNewTokens', Number.NaN],
    ['maxNewTokens', 0],
    ['maxNewTokens', -1],
    ['maxNewTokens', '4'],
    ['maxNewTokens', 1e9],
    ['maxNewTokens', 2.5],
    ['minNewTokens', -1],
    ['signal', { aborted: false }],
    ['sampling', 'greedy'],
    ['history', 'drop'],
    ['zoom', { resolution: [] }],
    ['zoom', { resolution: [1024, 1.5] }],
    ['zoom', { resolution: '1536' }],
  ])('refuses %s = %s before starting, naming the option and its range, and stays usable', async (option, value) => {
    const chat = new LoupeChat(fakeContext().context);
    expect(() => chat.ask('hi', { [option]: value })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(option) }));
    await expect(answer(chat, 'hi', { maxNewTokens: 4 })).resolves.toBe('ok');
  });

  it('setImage refuses a signal that is not an AbortSignal, typed', async () => {
    const chat = new LoupeChat(fakeContext().context);
    await expect(chat.setImage(new Blob([]), { signal: 'no' as unknown as AbortSignal })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses at setImage an image with more visual tokens than the context leaves room for, keeping the previous image', async () => {
    const small = fakeContext(8);
    const chat = new LoupeChat(small.context);
    await chat.setImage(new Blob([new Uint8Array(4)]));
    const big = fakeContext(CONTEXT);
    const refused = new LoupeChat({ ...small.context, vision: big.context.vision });
    await expect(refused.setImage(new Blob([new Uint8Array(4)]))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining(`holds ${CONTEXT} positions`),
    });
    expect(small.images).toEqual([8]);
  });

  it('drops the oldest turns when the next would overflow, keeps the image placeholder, and reports it', async () => {
    const { context, asked } = fakeContext();
    const chat = new LoupeChat(context);
    await chat.setImage(new Blob([new Uint8Array(4)]));
    for (let i = 0; i < 8; i++) await answer(chat, `question ${i}`);
    expect(chat.stats?.trimmedTurns).toBeGreaterThan(0);
    const last = asked[asked.length - 1]!;
    expect(last[0]).toMatchObject({ role: 'user', content: expect.stringMatching(/^<image>\nquestion \d$/) });
    expect(last[last.length - 1]).toEqual({ role: 'user', content: 'question 7' });
    expect(chat.history).toHaveLength(16); // the full conversation is kept; only the prompt is trimmed
  });

  it("with history: 'error' the overflow is a PROMPT_TOO_LONG error, and the chat still answers", async () => {
    const { context } = fakeContext();
    const chat = new LoupeChat(context);
    for (let i = 0; i < 4; i++) await answer(chat, `question ${i}`);
    await expect(answer(chat, 'one more question please', { history: 'error' })).rejects.toMatchObject({ code: 'PROMPT_TOO_LONG' });
    await expect(answer(chat, 'short')).resolves.toBe('ok');
  });

  it('overlapping setImage calls resolve to the last one, even when the earlier image is ready later', async () => {
    const { context, images } = fakeContext();
    // The first image takes longer to decode than the second (decoding runs outside the queue).
    const delays = [40, 0];
    const slow = {
      ...context,
      vision: {
        ...context.vision,
        encode: async (request: { requestId: number }) => {
          await new Promise((resolve) => setTimeout(resolve, delays.shift() ?? 0));
          return context.vision.encode(request as never).then((r) => ({ ...r, tokens: 8 + request.requestId }));
        },
      },
    } as unknown as ChatContext;
    const chat = new LoupeChat(slow);
    const first = chat.setImage(new Blob([new Uint8Array(4)]));
    const second = chat.setImage(new Blob([new Uint8Array(4)]));
    const [a, b] = await Promise.all([first, second]);
    expect(a).toBe(b);
    expect(chat.imageSummary).toBe(b);
    expect(images).toEqual([b.visualTokens]); // only the last image reached the language worker
  });

  it('after the language worker restarts, the next question sends the image features again and keeps the history', async () => {
    const { context, asked, images, restartLanguage } = fakeContext();
    const chat = new LoupeChat(context);
    await chat.setImage(new Blob([new Uint8Array(4)]));
    await answer(chat, 'first');
    restartLanguage();
    await answer(chat, 'second');
    expect(images).toEqual([8, 8]); // encoded once, sent twice
    expect(asked[1]!.map((m) => m.content)).toEqual(['<image>\nfirst', 'ok', 'second']);
    await answer(chat, 'third');
    expect(images).toEqual([8, 8]);
  });

  it('an answer that ignores its cancel past the deadline restarts the worker: ABORTED, and the chat answers again', async () => {
    const { context, overdue, hangNextAsk } = fakeContext();
    const chat = new LoupeChat(context);
    hangNextAsk();
    const controller = new AbortController();
    const pending = answer(chat, 'hang', { signal: controller.signal });
    controller.abort();
    const started = performance.now();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(overdue).toEqual(['language: The answer']);
    await expect(answer(chat, 'again')).resolves.toBe('ok');
  });
});
