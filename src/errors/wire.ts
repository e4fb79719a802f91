import { LoupeError, type LoupeErrorCode } from './loupe-error';

/** The structured-clone-safe shape of a LoupeError on its way across a worker boundary. */
export interface SerializedLoupeError {
  readonly kind: 'loupe-error';
  readonly code: LoupeErrorCode;
  readonly message: string;
  readonly details: Record<string, unknown>;
  readonly stack: string | undefined;
  /** The underlying error's message (e.g. onnxruntime's), where there was one. */
  readonly cause?: string;
}

function cloneableDetails(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(details);
  } catch {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  }
}

export function serializeError(error: unknown): SerializedLoupeError {
  const loupe =
    error instanceof LoupeError
      ? error
      : new LoupeError('INTERNAL', `Unexpected failure inside a Loupe worker: ${error instanceof Error ? error.message : String(error)}`);
  return {
    kind: 'loupe-error',
    code: loupe.code,
    message: loupe.message,
    details: cloneableDetails(loupe.details),
    stack: loupe.stack,
    ...(loupe.cause !== undefined ? { cause: loupe.cause instanceof Error ? `${loupe.cause.name}: ${loupe.cause.message}` : String(loupe.cause) } : {}),
  };
}

export function deserializeError(wire: SerializedLoupeError): LoupeError {
  const error = new LoupeError(wire.code, wire.message, { details: wire.details, ...(wire.cause !== undefined ? { cause: wire.cause } : {}) });
  if (wire.stack) error.stack = wire.stack;
  return error;
}
