import type { ModelInfo } from '../src';

/** The dtype each module of a loaded model runs in, as the bench records it. */
export function moduleDtypes(info: ModelInfo): Record<string, string> {
  return Object.fromEntries(Object.values(info.modules).map((m) => [m.module, m.dtype]));
}
