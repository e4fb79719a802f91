import * as Comlink from 'comlink';
import { deserializeError, serializeError, type SerializedLoupeError } from '../errors';

/**
 * Comlink's default 'throw' handler turns errors into plain Error objects and loses
 * their class and `code`. This one sends a LoupeError across intact. Register it on
 * both sides of every worker boundary.
 */
function isThrownWrapper(value: unknown): value is { value: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.getOwnPropertySymbols(value).some((symbol) => symbol.description === 'Comlink.thrown')
  );
}

let installed = false;

export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  Comlink.transferHandlers.set('throw', {
    canHandle: isThrownWrapper,
    serialize: (wrapper: { value: unknown }) => [serializeError(wrapper.value), []],
    deserialize: (wire: SerializedLoupeError) => {
      throw deserializeError(wire);
    },
  } as Comlink.TransferHandler<{ value: unknown }, SerializedLoupeError>);
}
