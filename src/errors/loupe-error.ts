/**
 * One error type for everything Loupe reports. `code` is stable and machine-readable;
 * the message always says what was expected, what was found and what to do.
 */
export type LoupeErrorCode =
  | 'ABORTED'
  | 'BUSY'
  | 'BUNDLE_FILE_MISSING'
  | 'BUNDLE_FETCH_FAILED'
  | 'BUNDLE_CONFIG_INVALID'
  | 'GRAPH_INVALID'
  | 'GRAPH_LAYOUT_MISMATCH'
  | 'PROVIDER_UNAVAILABLE'
  | 'IMAGE_DECODE_FAILED'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_REQUIRED'
  | 'PROMPT_TOO_LONG'
  | 'INVALID_ARGUMENT'
  | 'DISPOSED'
  | 'WORKER_CRASHED'
  | 'DEVICE_LOST'
  | 'UNSUPPORTED_MODEL'
  | 'MODEL_TOO_LARGE'
  | 'DEVICE_LIMIT'
  | 'INTERNAL';

export interface LoupeErrorInit {
  /** Structured context (URLs, expected vs found names, limits) for UIs and logs. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class LoupeError extends Error {
  readonly code: LoupeErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: LoupeErrorCode, message: string, init: LoupeErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = code === 'ABORTED' ? 'AbortError' : 'LoupeError';
    this.code = code;
    this.details = init.details ?? {};
  }
}

export function isLoupeError(value: unknown, code?: LoupeErrorCode): value is LoupeError {
  return value instanceof LoupeError && (code === undefined || value.code === code);
}

export function abortError(what: string): LoupeError {
  return new LoupeError('ABORTED', `${what} was cancelled by its AbortSignal; the engine is still usable.`);
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortError(what);
}

/** Wraps anything thrown by a dependency so callers only ever see LoupeError. */
export function asLoupeError(error: unknown, code: LoupeErrorCode, context: string): LoupeError {
  if (error instanceof LoupeError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new LoupeError(code, `${context}: ${text}`, { cause: error });
}
