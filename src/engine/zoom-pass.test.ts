import { describe, expect, it } from 'vitest';
import { zoomResolutions } from './zoom-pass';

describe('zoomResolutions: where a closer look encodes the region', () => {
  it('by default once, at the model resolution', () => {
    expect(zoomResolutions({}, 1536)).toEqual([1536]);
  });

  it('the request resolution, or its list in its order without repeats', () => {
    expect(zoomResolutions({ resolution: 768 }, 1536)).toEqual([768]);
    expect(zoomResolutions({ resolution: [1024, 1536, 1024] }, 1536)).toEqual([1024, 1536]);
  });
});
