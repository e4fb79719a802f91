import { invalid, type Json } from './json';

/**
 * transformers.js_config.use_external_data_format: `true` / a number of chunks for every
 * module, or per file ("decoder_model_merged_q4.onnx": 2) or per module name. Graphs over
 * protobuf's 2 GB cap keep their weights in `<file>_data`, `<file>_data_1`, ...
 */
export type ExternalDataSpec = number | Record<string, number>;

export function parseExternalData(jsConfig: Json): ExternalDataSpec {
  const value = jsConfig.use_external_data_format;
  if (value === undefined || value === null || value === false) return 0;
  if (value === true) return 1;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Json).map(([key, n]) => [key, n === true ? 1 : n === false ? 0 : n] as const);
    if (entries.every(([, n]) => typeof n === 'number' && Number.isInteger(n) && n >= 0)) return Object.fromEntries(entries) as Record<string, number>;
  }
  throw invalid('config.json', 'transformers.js_config.use_external_data_format', 'true, a chunk count, or {file or module: chunk count}', value);
}

/** The data files of `file` (onnx/<name>.onnx), relative to the bundle, in chunk order. */
export function externalDataFiles(spec: ExternalDataSpec, file: string, module: string): string[] {
  const name = file.slice(file.lastIndexOf('/') + 1);
  const chunks = typeof spec === 'number' ? spec : (spec[name] ?? spec[module] ?? 0);
  return Array.from({ length: chunks }, (_, i) => `${file}_data${i === 0 ? '' : `_${i}`}`);
}
