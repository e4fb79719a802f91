import { describe, expect, it } from 'vitest';
import { commonPrefixLength, planPrefix } from './prefix-plan';

describe('KV-cache bookkeeping', () => {
  it('reuses the whole cache when the next prompt extends it', () => {
    expect(planPrefix([1, 2, 3], [1, 2, 3, 4, 5])).toEqual({ keep: 3, truncate: false });
  });

  it('always leaves at least one token to feed', () => {
    expect(planPrefix([1, 2, 3], [1, 2, 3])).toEqual({ keep: 2, truncate: true });
    expect(planPrefix([1], [1])).toEqual({ keep: 0, truncate: false });
  });

  it('cuts the cache back to the common prefix when the prompt diverges', () => {
    expect(planPrefix([1, 2, 3, 4], [1, 2, 9, 9])).toEqual({ keep: 2, truncate: true });
  });

  it('starts over when nothing is shared, and from empty', () => {
    expect(planPrefix([5, 6], [1, 2])).toEqual({ keep: 0, truncate: false });
    expect(planPrefix([], [1, 2])).toEqual({ keep: 0, truncate: false });
    expect(commonPrefixLength([1, 2, 3], [1, 2])).toBe(2);
  });
});
