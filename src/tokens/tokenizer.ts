import * as transformers from '@huggingface/transformers';
import { LoupeError } from '../errors';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

type Tokenizer = transformers.PreTrainedTokenizer;
type TokenizerClass = new (json: object, config: object) => Tokenizer;

/**
 * Resolves the class AutoTokenizer would pick for `tokenizer_class`, so a bundle's own
 * tokenizer files load exactly as transformers.js loads them, with no hub access.
 */
function tokenizerClass(config: Record<string, unknown>): TokenizerClass {
  const name = typeof config.tokenizer_class === 'string' ? config.tokenizer_class.replace(/Fast$/, '') : 'PreTrainedTokenizer';
  const candidate = (transformers as unknown as Record<string, unknown>)[name];
  if (typeof candidate === 'function' && (candidate === transformers.PreTrainedTokenizer || candidate.prototype instanceof transformers.PreTrainedTokenizer)) {
    return candidate as TokenizerClass;
  }
  return transformers.PreTrainedTokenizer as unknown as TokenizerClass;
}

/** The bundle's tokenizer and chat template, behind the few calls the runtime needs. */
export class BundleTokenizer {
  private constructor(private readonly tokenizer: Tokenizer) {}

  static fromFiles(tokenizerJson: unknown, tokenizerConfig: unknown): BundleTokenizer {
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null) {
      throw new LoupeError('BUNDLE_CONFIG_INVALID', 'tokenizer.json must be a JSON object in the Hugging Face tokenizers format.');
    }
    const config = (tokenizerConfig ?? {}) as Record<string, unknown>;
    if (typeof config.chat_template !== 'string' && !Array.isArray(config.chat_template)) {
      throw new LoupeError(
        'BUNDLE_CONFIG_INVALID',
        'tokenizer_config.json has no chat_template. Expected a Jinja template that renders the conversation; add one to the bundle.',
      );
    }
    try {
      return new BundleTokenizer(new (tokenizerClass(config))(tokenizerJson, config));
    } catch (error) {
      throw new LoupeError('BUNDLE_CONFIG_INVALID', `tokenizer.json could not be loaded by transformers.js: ${String(error)}`, { cause: error });
    }
  }

  /** Renders the chat template and tokenizes it, ending with the assistant's turn prompt. */
  encodeChat(messages: ChatMessage[]): number[] {
    return this.encode(this.renderChat(messages));
  }

  /** Plain text to ids. The chat template already holds the special tokens it wants (bos), so none are added. */
  encode(text: string): number[] {
    const encoded = this.tokenizer.encode(text, { add_special_tokens: false }) as unknown;
    if (!Array.isArray(encoded)) throw new LoupeError('INTERNAL', 'The tokenizer returned no token ids.');
    return (encoded as (number | bigint)[]).map(Number);
  }

  renderChat(messages: ChatMessage[]): string {
    return this.tokenizer.apply_chat_template(messages as never, { tokenize: false, add_generation_prompt: true }) as unknown as string;
  }

  decode(ids: number[]): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: true });
  }
}
