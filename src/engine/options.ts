import { LoupeError } from '../errors';
import type { AskOptions, SetImageOptions, ZoomRequest } from './types';

/** The most new tokens one answer may ask for (the context caps it further). */
export const MAX_NEW_TOKENS = 65536;

function invalid(option: string, expected: string, found: unknown): LoupeError {
  const shown = typeof found === 'string' ? `"${found}"` : typeof found === 'number' || typeof found === 'boolean' ? String(found) : typeof found;
  return new LoupeError('INVALID_ARGUMENT', `${option} must be ${expected}; got ${shown}.`, { details: { option, expected } });
}

function checkCount(options: object, key: string, min: number, max: number): void {
  const value = (options as Record<string, unknown>)[key];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(key, `an integer from ${min} to ${max}`, value);
  }
}

function checkSignal(options: { signal?: unknown }): void {
  const { signal } = options;
  if (signal === undefined) return;
  const isSignal = typeof AbortSignal !== 'undefined' && signal instanceof AbortSignal;
  if (!isSignal) throw invalid('signal', 'an AbortSignal (e.g. new AbortController().signal)', signal);
}

/** ask()'s options, checked before anything starts, so a bad one never leaves the chat busy. */
export function checkAskOptions(options: unknown): AskOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw invalid('options', 'an object', options);
  const o = options as AskOptions & { history?: unknown };
  checkCount(o, 'maxNewTokens', 1, MAX_NEW_TOKENS);
  checkCount(o, 'minNewTokens', 0, o.maxNewTokens ?? MAX_NEW_TOKENS);
  checkSignal(o);
  if (o.sampling !== undefined && (typeof o.sampling !== 'object' || o.sampling === null)) throw invalid('sampling', 'an object', o.sampling);
  if (o.history !== undefined && o.history !== 'trim' && o.history !== 'error') throw invalid('history', '"trim" or "error"', o.history);
  if (o.evidence !== undefined && typeof o.evidence !== 'boolean') throw invalid('evidence', 'true or false', o.evidence);
  checkZoom(o.zoom);
  return o;
}

function checkZoom(zoom: unknown): void {
  if (zoom === undefined || zoom === 'auto' || zoom === 'off') return;
  if (typeof zoom !== 'object' || zoom === null) throw invalid('zoom', '"auto", "off" or an object { mass, minSide, keepGlobal, resolution, sureAbove, margin }', zoom);
  const z = zoom as ZoomRequest;
  if (z.mass !== undefined && !(typeof z.mass === 'number' && z.mass > 0 && z.mass <= 1)) throw invalid('zoom.mass', 'a number in (0, 1]', z.mass);
  if (z.minSide !== undefined && !(typeof z.minSide === 'number' && z.minSide > 0 && z.minSide <= 1)) throw invalid('zoom.minSide', 'a number in (0, 1]', z.minSide);
  const resolutions = typeof z.resolution === 'number' ? [z.resolution] : Array.isArray(z.resolution) ? (z.resolution as unknown[]) : undefined;
  if (z.resolution !== undefined && !(resolutions && resolutions.length > 0 && resolutions.every((r) => typeof r === 'number' && Number.isInteger(r) && r > 0))) {
    throw invalid('zoom.resolution', 'a positive integer or a non-empty list of them (multiples of the stride)', z.resolution);
  }
  if (z.sureAbove !== undefined && !(typeof z.sureAbove === 'number' && z.sureAbove >= 0 && z.sureAbove <= 1)) throw invalid('zoom.sureAbove', 'a number in [0, 1]', z.sureAbove);
  if (z.margin !== undefined && !(typeof z.margin === 'number' && z.margin >= 0 && z.margin <= 1)) throw invalid('zoom.margin', 'a number in [0, 1]', z.margin);
  if (z.keepGlobal !== undefined && typeof z.keepGlobal !== 'boolean') throw invalid('zoom.keepGlobal', 'true or false', z.keepGlobal);
}

/** setImage()'s options: the signal here; the planner checks the knobs (typed errors). */
export function checkSetImageOptions(options: unknown): SetImageOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw invalid('options', 'an object', options);
  checkSignal(options as SetImageOptions);
  return options as SetImageOptions;
}

/** loadModel()'s numeric options; the rest are checked where they are used (typed errors). */
export function checkLoadOptions<T extends object>(options: T): T {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  checkCount(options, 'abortDeadlineMs', 0, 600_000);
  checkCount(options, 'threads', 1, 64);
  checkSignal(options as { signal?: unknown });
  return options;
}
