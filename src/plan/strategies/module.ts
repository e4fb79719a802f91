import type { LoupeImageConfig } from '../../bundle';
import { LoupeError } from '../../errors';
import type { ImagePlan, PlanOverrides } from '../types';

/**
 * One way of turning an image into visual tokens. `K` is the strategy's own knobs.
 * parse: the bundle's defaults under the caller's overrides, checked (typed errors).
 * plan: pure geometry and the encoder recipe for an image of width x height.
 * shrink: the next smaller knobs when one image exceeds the device's buffer limit, with
 * nothing left to shrink: undefined. describe: the knobs in words, for the plan's notes.
 */
export interface StrategyModule<K> {
  parse(config: LoupeImageConfig, overrides: PlanOverrides): K;
  plan(width: number, height: number, config: LoupeImageConfig, knobs: K): ImagePlan;
  shrink(knobs: K, config: LoupeImageConfig): K | undefined;
  describe(knobs: K, config: LoupeImageConfig): string;
}

/** A side one stride smaller, while at least one stride remains. */
export function smallerSide(side: number, stride: number): number | undefined {
  const next = (Math.ceil(side / stride) - 1) * stride;
  return next >= stride ? next : undefined;
}

/**
 * Upper bounds of the knobs: beyond them no device runs the encoder anyway, and a bound
 * keeps planning and device fitting quick (a fuzzed resolution of 10^9 took the fitter
 * 15 M steps of one stride).
 */
export const LIMITS = { side: 16384, tokens: 65536, crops: 4096, tiles: 1024 } as const;

/** A count knob: an integer in [min, max], else a typed error naming the range. */
export function checkCount(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LoupeError('INVALID_ARGUMENT', `${what} must be an integer from ${min} to ${max}; got ${value}.`);
  }
}
