/**
 * What to do with a KV cache that covers `cached` tokens when the next prompt is `next`:
 * keep its first `keep` positions and feed `next.slice(keep)`. At least one token is always
 * fed, because the decoder needs it to produce the next logits.
 */
export interface PrefixPlan {
  keep: number;
  /** True when the cache holds more than the shared prefix and must be cut back. */
  truncate: boolean;
}

export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export function planPrefix(cached: readonly number[], next: readonly number[]): PrefixPlan {
  const keep = Math.min(commonPrefixLength(cached, next), next.length - 1);
  return { keep: Math.max(keep, 0), truncate: keep > 0 && keep < cached.length };
}
