import { ort } from '../device/ort';
import type { TextModelSpec } from '../bundle';
import { ECOSYSTEM_KV, kvNames, presentToPast, type KvLayout } from '../models';
import { planPrefix, type PrefixPlan } from './prefix-plan';

/**
 * The decoder's past keys and values plus the token ids they cover. It owns its tensors:
 * whatever it replaces or drops is disposed (GPU buffers are freed at once, not by GC).
 */
export class KvCache {
  private tensors = new Map<string, ort.Tensor>();
  private covered: number[] = [];
  /** Names resolved once, not per decoder step. */
  private readonly pastNames: string[];
  private readonly pastOf: Map<string, string>;

  constructor(
    private readonly spec: TextModelSpec,
    private readonly type: 'float32' | 'float16' = 'float32',
    layout: KvLayout = ECOSYSTEM_KV,
  ) {
    this.pastNames = kvNames(layout.past, spec.numLayers);
    this.pastOf = presentToPast(layout, spec.numLayers);
  }

  get tokens(): readonly number[] {
    return this.covered;
  }

  /** Where the cache lives between steps: 'gpu-buffer' on WebGPU, 'cpu' on wasm. */
  get location(): ort.Tensor.DataLocation | 'empty' {
    const first = this.tensors.values().next();
    return first.done ? 'empty' : first.value.location;
  }

  get length(): number {
    return this.covered.length;
  }

  /** Decides how much of the cache the next prompt can reuse, and cuts the cache to it. */
  async prepare(next: readonly number[]): Promise<PrefixPlan> {
    const plan = planPrefix(this.covered, next);
    if (plan.keep === 0) this.clear();
    else if (plan.truncate) await this.truncate(plan.keep);
    return plan;
  }

  /** Feeds for `past_key_values.*`: the cached tensors, or zero-length ones when empty. */
  feeds(): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    const { numKeyValueHeads, headDim } = this.spec;
    for (const name of this.pastNames) out[name] = this.tensors.get(name) ?? emptyCache(this.type, numKeyValueHeads, headDim);
    return out;
  }

  /** Takes ownership of a step's `present.*` outputs, which now cover `tokens`. */
  update(outputs: Record<string, ort.Tensor>, fed: readonly number[]): void {
    const next = new Map<string, ort.Tensor>();
    for (const [name, tensor] of Object.entries(outputs)) {
      const past = this.pastOf.get(name);
      if (past) next.set(past, tensor);
    }
    this.disposeAll();
    this.tensors = next;
    this.covered = this.covered.concat(fed);
  }

  /**
   * Keeps the positions before the first `id` (a new image's placeholder: the template text
   * before it is unchanged) and marks the rest stale, so the next prompt reuses only that
   * prefix. Without `id` in the cache, all of it stays (nothing in it depends on the image).
   */
  forgetFrom(id: number): void {
    const at = this.covered.indexOf(id);
    if (at === 0) this.clear();
    else if (at > 0) this.covered = [...this.covered.slice(0, at), ...new Array<number>(this.covered.length - at).fill(-1)];
  }

  clear(): void {
    this.disposeAll();
    this.tensors = new Map();
    this.covered = [];
  }

  /**
   * Keeps the first `keep` positions. GPU-resident caches are read back once and cut on
   * the CPU; the next step uploads the shorter cache. That costs one copy of the cache,
   * far less than prefilling the shared prefix again.
   */
  private async truncate(keep: number): Promise<void> {
    for (const [name, tensor] of this.tensors) {
      const [batch = 1, heads = 1, length = 0, dim = 1] = tensor.dims;
      const data = (await tensor.getData()) as Float32Array | Uint16Array;
      const out = data instanceof Float32Array ? new Float32Array(batch * heads * keep * dim) : new Uint16Array(batch * heads * keep * dim);
      for (let h = 0; h < batch * heads; h++) {
        out.set(data.subarray(h * length * dim, h * length * dim + keep * dim), h * keep * dim);
      }
      tensor.dispose();
      this.tensors.set(name, new ort.Tensor(tensor.type as 'float32', out as Float32Array, [batch, heads, keep, dim]));
    }
    this.covered = this.covered.slice(0, keep);
  }

  private disposeAll(): void {
    for (const tensor of this.tensors.values()) tensor.dispose();
  }
}

function emptyCache(type: 'float32' | 'float16', heads: number, dim: number): ort.Tensor {
  return type === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), [1, heads, 0, dim]) : new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, dim]);
}
