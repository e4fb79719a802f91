import { LoupeError } from '../errors';

/** A parsed JSON object from a bundle file. */
export type Json = Record<string, unknown>;

export function invalid(file: string, path: string, expected: string, found: unknown): LoupeError {
  return new LoupeError(
    'BUNDLE_CONFIG_INVALID',
    `${file}: expected ${path} to be ${expected}, found ${JSON.stringify(found)}. Re-export the bundle or fix the file.`,
    { details: { file, path } },
  );
}

export function object(value: unknown, file: string, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(file, path, 'an object', value);
  }
  return value as Json;
}

/** An optional nested object: absent -> {}. */
export function section(json: Json, key: string, file: string): Json {
  return json[key] === undefined ? {} : object(json[key], file, key);
}

export function integer(json: Json, key: string, file: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(file, key, 'an integer', value);
  return value;
}

export function numbers3(value: unknown, file: string, path: string, fallback: [number, number, number]): [number, number, number] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number')) {
    throw invalid(file, path, 'three numbers', value);
  }
  return [value[0], value[1], value[2]] as [number, number, number];
}

export function optionalString(json: Json, key: string): string | undefined {
  const value = json[key];
  return typeof value === 'string' ? value : undefined;
}
