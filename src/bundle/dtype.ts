import { LoupeError } from '../errors';
import { MODULES, type ModuleName } from './module-names';

/** Weight formats and their file suffixes, exactly as transformers.js names them. */
export const DTYPE_SUFFIX = {
  fp32: '',
  fp16: '_fp16',
  int8: '_int8',
  uint8: '_uint8',
  q8: '_quantized',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
} as const;

export type Dtype = keyof typeof DTYPE_SUFFIX;
export type DtypeMap = Record<ModuleName, Dtype>;
/** What a user may pass: one dtype for every module, or a per-module map. */
export type DtypeChoice = Dtype | Partial<Record<ModuleName, Dtype>>;

export type Provider = 'webgpu' | 'wasm';

export interface DtypeContext {
  provider: Provider;
  /** Whether the GPU exposes `shader-f16`; fp16 weights need it on WebGPU. */
  shaderF16: boolean;
}

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SUFFIX, value);
}

function needsF16(dtype: Dtype): boolean {
  return dtype === 'fp16' || dtype === 'q4f16';
}

/**
 * Defaults per device. The vision encoder is a ConvNet: 4-bit MatMul quantization skips
 * its convolutions, so it stays fp16/fp32. The decoder is MatMul-bound and memory-bound,
 * so 4-bit weights are the right default wherever MatMulNBits runs (WebGPU and wasm).
 */
export function deviceDefaults(context: DtypeContext): DtypeMap {
  const f16 = context.provider === 'webgpu' && context.shaderF16;
  return {
    vision_encoder: f16 ? 'fp16' : 'fp32',
    embed_tokens: f16 ? 'fp16' : 'fp32',
    decoder_model_merged: f16 ? 'q4f16' : 'q4',
  };
}

function normalizeChoice(choice: DtypeChoice | undefined, source: string): Partial<Record<ModuleName, Dtype>> {
  if (choice === undefined) return {};
  if (typeof choice === 'string') {
    if (!isDtype(choice)) throw unknownDtype(choice, source);
    return Object.fromEntries(MODULES.map((name) => [name, choice]));
  }
  const out: Partial<Record<ModuleName, Dtype>> = {};
  for (const [name, dtype] of Object.entries(choice)) {
    if (!(MODULES as readonly string[]).includes(name)) {
      throw new LoupeError('INVALID_ARGUMENT', `${source} names an unknown module "${name}"; expected one of ${MODULES.join(', ')}.`);
    }
    if (!isDtype(dtype)) throw unknownDtype(String(dtype), source);
    out[name as ModuleName] = dtype;
  }
  return out;
}

function unknownDtype(value: string, source: string): LoupeError {
  return new LoupeError(
    'INVALID_ARGUMENT',
    `${source} asks for dtype "${value}"; expected one of ${Object.keys(DTYPE_SUFFIX).join(', ')}.`,
  );
}

/**
 * Picks one dtype per module: the user's choice wins, then the bundle's declared defaults
 * (`transformers.js_config.dtype` in config.json), then the device defaults. fp16 weights
 * on a GPU without `shader-f16` are refused with a clear error rather than left to fail
 * deep inside the runtime. On wasm they run (onnxruntime's CPU kernels, float32 graph I/O)
 * when the user asks, but a bundle's declared fp16 is not taken there: fp32 / q4 are faster.
 */
export function selectDtypes(
  context: DtypeContext,
  bundleDefaults: DtypeChoice | undefined,
  userChoice: DtypeChoice | undefined,
): DtypeMap {
  const device = deviceDefaults(context);
  const declared = normalizeChoice(bundleDefaults, "the bundle's transformers.js_config.dtype");
  const user = normalizeChoice(userChoice, 'the dtype option');
  const result = { ...device } as DtypeMap;
  for (const name of MODULES) {
    const fromBundle = declared[name];
    if (fromBundle !== undefined && !(needsF16(fromBundle) && !(context.provider === 'webgpu' && context.shaderF16))) {
      result[name] = fromBundle;
    }
    const fromUser = user[name];
    if (fromUser !== undefined) {
      if (needsF16(fromUser) && context.provider === 'webgpu' && !context.shaderF16) {
        throw new LoupeError(
          'INVALID_ARGUMENT',
          `dtype "${fromUser}" for ${name} needs WebGPU with the shader-f16 feature, but this GPU does not have it. ` +
            `Choose fp32, q4 or int8 for ${name}, or run on wasm.`,
        );
      }
      result[name] = fromUser;
    }
  }
  return result;
}

export function moduleFileName(name: ModuleName, dtype: Dtype): string {
  return `onnx/${name}${DTYPE_SUFFIX[dtype]}.onnx`;
}
