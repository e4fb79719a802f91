import type { KvLayout } from './family';

/** transformers.js / Optimum's names (REFERENCE §5): past_key_values.0.key -> present.0.key. */
export const ECOSYSTEM_KV: KvLayout = { past: 'past_key_values.{layer}.{kind}', present: 'present.{layer}.{kind}' };

export type KvKind = 'key' | 'value';
export const KV_KINDS: readonly KvKind[] = ['key', 'value'];

export function kvName(template: string, layer: number, kind: KvKind): string {
  return template.replace('{layer}', String(layer)).replace('{kind}', kind);
}

/** All names of one side (past or present), layer by layer, key before value. */
export function kvNames(template: string, layers: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < layers; i++) for (const kind of KV_KINDS) names.push(kvName(template, i, kind));
  return names;
}

/** Each present output's name -> the past input it feeds at the next step. */
export function presentToPast(layout: KvLayout, layers: number): Map<string, string> {
  const past = kvNames(layout.past, layers);
  return new Map(kvNames(layout.present, layers).map((name, i) => [name, past[i]!]));
}
