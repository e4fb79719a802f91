/**
 * Turns a growing list of token ids into text deltas. Byte-level tokens can end in the
 * middle of a UTF-8 character; such a tail decodes to U+FFFD and is held back until the
 * next token completes it, so a stream never shows half an emoji.
 */
export class TextStream {
  private readonly ids: number[] = [];
  private emitted = '';

  constructor(private readonly decode: (ids: number[]) => string) {}

  /** Adds one token and returns the text that became final with it (may be ''). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.ids);
    if (text.endsWith('\uFFFD')) return '';
    return this.take(text);
  }

  /** Whatever is left at the end, incomplete characters included. */
  flush(): string {
    return this.take(this.decode(this.ids));
  }

  get text(): string {
    return this.emitted;
  }

  private take(text: string): string {
    // Decoding is not always prefix-stable (cleanup of spaces); never emit text twice.
    if (!text.startsWith(this.emitted)) {
      let common = 0;
      while (common < this.emitted.length && text[common] === this.emitted[common]) common++;
      this.emitted = text;
      return text.slice(common);
    }
    const delta = text.slice(this.emitted.length);
    this.emitted = text;
    return delta;
  }
}
