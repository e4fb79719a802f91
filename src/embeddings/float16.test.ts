import { describe, expect, it } from 'vitest';
import { asFloat32, fromHalfBits, toHalfBits } from './float16';

describe('float16 conversion', () => {
  it('rounds to nearest even and round-trips representable values', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(2 ** -24)).toBe(0x0001);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // halfway, even stays
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway, odd rounds up
    for (const v of [0, 0.5, -1.7922625541687012, 2.1458969116210938, 0.000123]) {
      expect(Math.abs(fromHalfBits(toHalfBits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
    expect(Array.from(asFloat32(Uint16Array.from([0x3c00, 0xc000])))).toEqual([1, -2]);
  });
});
