export { LoupeError, isLoupeError, abortError, throwIfAborted, asLoupeError } from './loupe-error';
export type { LoupeErrorCode, LoupeErrorInit } from './loupe-error';
export { serializeError, deserializeError } from './wire';
export type { SerializedLoupeError } from './wire';
