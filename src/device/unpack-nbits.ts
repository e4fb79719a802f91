import { Writer, fieldString, fieldVarint, readFields, type Field } from './protobuf';

/**
 * On wasm, onnxruntime's `MatMulNBits` has no packed kernel: every run dequantises the whole
 * weight before an fp32 GEMM (a small decoder step took 13 ms, 2.6-3.5 ms with the same
 * weights as fp32 MatMul: BENCHMARKS.md). So before a wasm session is created, Loupe writes
 * each 4- or 8-bit block matrix out once as the fp32 matrix MatMulNBits multiplies by (the
 * same values, only the summation order differs) and replaces the node by a MatMul. The
 * download stays 4-bit; the memory is 4 bytes per weight, so only graphs under a limit.
 */
export const UNPACK_LIMIT_BYTES = 256 * 2 ** 20;

export interface UnpackedGraph {
  bytes: Uint8Array<ArrayBuffer>;
  /** MatMulNBits nodes replaced by MatMul. */
  matrices: number;
  /** fp32 weight bytes written. */
  weightBytes: number;
  /** How long the rewrite took. */
  ms: number;
}

interface TensorBytes {
  data: Uint8Array;
  type: number;
}

interface NbitsNode {
  field: Field;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs: Map<string, number>;
}

const FLOAT = 1;
const UINT8 = 2;
const MS_DOMAIN = 'com.microsoft';

/** The graph with its MatMulNBits weights unpacked, or undefined when there is nothing to do or it would pass `limit`. */
export function unpackNbitsWeights(model: Uint8Array, external: readonly { path: string; data: Uint8Array }[] = [], limit = UNPACK_LIMIT_BYTES): UnpackedGraph | undefined {
  const started = performance.now();
  let top: Field[];
  try {
    top = readFields(model);
  } catch {
    return undefined; // not a protobuf: the session reports what it is
  }
  const graphField = top.find((f) => f.num === 7 && f.wire === 2);
  if (!graphField) return undefined;
  const graph = readFields(model, graphField.dataStart, graphField.dataEnd);
  const nodes = graph.filter((f) => f.num === 1 && f.wire === 2).map((f) => readNode(model, f));
  if (nodes.some((n) => n.hasSubgraph)) return undefined; // If / Loop bodies could read the same weights
  const nbits = nodes.filter((n) => n.opType === 'MatMulNBits' && n.domain === MS_DOMAIN).map((n) => n.node);
  if (nbits.length === 0) return undefined;
  const total = nbits.reduce((sum, n) => sum + 4 * (n.attrs.get('K') ?? 0) * (n.attrs.get('N') ?? 0), 0);
  if (total > limit) return undefined;
  const tensors = new Map<string, Field>();
  for (const f of graph) if (f.num === 5 && f.wire === 2) tensors.set(tensorName(model, f), f);
  const readers = new Map<string, number>();
  for (const n of nodes) for (const input of n.node.inputs) readers.set(input, (readers.get(input) ?? 0) + 1);

  const replaced = new Map<Field, Uint8Array>();
  const added: Uint8Array[] = [];
  const freed = new Map<string, number>();
  let weightBytes = 0;
  for (const node of nbits) {
    const weights = unpackNode(model, node, tensors, external);
    if (!weights) continue;
    const name = `${node.inputs[1]}_unpacked_fp32`;
    const k = node.attrs.get('K')!;
    const n = node.attrs.get('N')!;
    added.push(new Writer().bytes(5, tensorBytes(name, [k, n], weights)).finish());
    replaced.set(node.field, new Writer().bytes(1, matMulNode(node, name)).finish());
    weightBytes += weights.byteLength;
    for (const input of node.inputs.slice(1)) if (input) freed.set(input, (freed.get(input) ?? 0) + 1);
  }
  if (replaced.size === 0) return undefined;
  // An initializer goes when every node that read it was replaced.
  const dropped = new Set([...freed].filter(([name, count]) => readers.get(name) === count).map(([name]) => name));
  const graphOut = new Writer();
  for (const f of graph) {
    const swap = replaced.get(f);
    if (swap) graphOut.raw(swap);
    else if (f.num === 5 && f.wire === 2 && dropped.has(tensorName(model, f))) continue;
    else graphOut.raw(model.subarray(f.start, f.end));
  }
  for (const tensor of added) graphOut.raw(tensor);
  const out = new Writer();
  for (const f of top) {
    if (f === graphField) out.bytes(7, graphOut.finish());
    else out.raw(model.subarray(f.start, f.end));
  }
  return { bytes: out.finish(), matrices: replaced.size, weightBytes, ms: performance.now() - started };
}

function readNode(buf: Uint8Array, field: Field): { node: NbitsNode; opType: string; domain: string; hasSubgraph: boolean } {
  const node: NbitsNode = { field, inputs: [], outputs: [], name: '', attrs: new Map() };
  let opType = '';
  let domain = '';
  let hasSubgraph = false;
  for (const f of readFields(buf, field.dataStart, field.dataEnd)) {
    if (f.num === 1) node.inputs.push(fieldString(buf, f));
    else if (f.num === 2) node.outputs.push(fieldString(buf, f));
    else if (f.num === 3) node.name = fieldString(buf, f);
    else if (f.num === 4) opType = fieldString(buf, f);
    else if (f.num === 7) domain = fieldString(buf, f);
    else if (f.num === 5) {
      let name = '';
      let value: number | undefined;
      for (const a of readFields(buf, f.dataStart, f.dataEnd)) {
        if (a.num === 1) name = fieldString(buf, a);
        else if (a.num === 3 && a.wire === 0) value = fieldVarint(buf, a);
        else if (a.num === 6 || a.num === 11) hasSubgraph = true;
      }
      if (value !== undefined) node.attrs.set(name, value);
    }
  }
  return { node, opType, domain, hasSubgraph };
}

function tensorName(buf: Uint8Array, field: Field): string {
  const name = readFields(buf, field.dataStart, field.dataEnd).find((f) => f.num === 8);
  return name ? fieldString(buf, name) : '';
}

/** An initializer's bytes (inline raw_data, or its slice of an external data file) and type. */
function tensorData(buf: Uint8Array, field: Field, external: readonly { path: string; data: Uint8Array }[]): TensorBytes | undefined {
  let type = 0;
  let raw: Uint8Array | undefined;
  const where = new Map<string, string>();
  for (const f of readFields(buf, field.dataStart, field.dataEnd)) {
    if (f.num === 2) type = fieldVarint(buf, f);
    else if (f.num === 9) raw = buf.subarray(f.dataStart, f.dataEnd);
    else if (f.num === 13) {
      const entry = readFields(buf, f.dataStart, f.dataEnd);
      const key = entry.find((e) => e.num === 1);
      const value = entry.find((e) => e.num === 2);
      if (key && value) where.set(fieldString(buf, key), fieldString(buf, value));
    }
  }
  if (raw) return { data: raw, type };
  const file = external.find((e) => e.path === where.get('location'));
  const length = Number(where.get('length'));
  if (!file || !Number.isFinite(length)) return undefined;
  const offset = Number(where.get('offset') ?? 0);
  return offset + length <= file.data.length ? { data: file.data.subarray(offset, offset + length), type } : undefined;
}

/** W [K, N] fp32 as MatMulNBits computes it: (q - zero point) * scale per block along K. */
function unpackNode(buf: Uint8Array, node: NbitsNode, tensors: Map<string, Field>, external: readonly { path: string; data: Uint8Array }[]): Float32Array | undefined {
  const [, bName, scaleName, zpName, gIdx, bias] = node.inputs;
  const k = node.attrs.get('K');
  const n = node.attrs.get('N');
  const bits = node.attrs.get('bits') ?? 4;
  const block = node.attrs.get('block_size');
  if (!k || !n || !block || (bits !== 4 && bits !== 8) || gIdx || bias || !bName || !scaleName) return undefined;
  const read = (name: string) => (tensors.has(name) ? tensorData(buf, tensors.get(name)!, external) : undefined);
  const q = read(bName);
  const scales = read(scaleName);
  const zp = zpName ? read(zpName) : undefined;
  const blocks = Math.ceil(k / block);
  const blob = (block * bits) / 8;
  const zpRow = bits === 4 ? Math.ceil(blocks / 2) : blocks;
  if (!q || q.type !== UINT8 || q.data.length !== n * blocks * blob) return undefined;
  if (!scales || scales.type !== FLOAT || scales.data.length !== 4 * n * blocks) return undefined;
  if (zpName && (!zp || zp.type !== UINT8 || zp.data.length !== n * zpRow)) return undefined;
  const scale = new Float32Array(scales.data.slice().buffer);
  const out = new Float32Array(k * n);
  const middle = 1 << (bits - 1);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < blocks; b++) {
      const s = scale[col * blocks + b]!;
      let z = middle;
      if (zp) {
        const byte = zp.data[col * zpRow + (bits === 4 ? b >> 1 : b)]!;
        z = bits === 4 ? (b & 1 ? byte >> 4 : byte & 0x0f) : byte;
      }
      const base = (col * blocks + b) * blob;
      const rows = Math.min(block, k - b * block);
      for (let j = 0; j < rows; j++) {
        const v = bits === 4 ? (j & 1 ? q.data[base + (j >> 1)]! >> 4 : q.data[base + (j >> 1)]! & 0x0f) : q.data[base + j]!;
        out[(b * block + j) * n + col] = (v - z) * s;
      }
    }
  }
  return out;
}

function tensorBytes(name: string, dims: number[], data: Float32Array): Uint8Array {
  const w = new Writer();
  for (const d of dims) w.varint(1, d);
  w.varint(2, FLOAT);
  w.string(8, name);
  return w.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).finish();
}

function matMulNode(node: NbitsNode, weight: string): Uint8Array {
  const w = new Writer().string(1, node.inputs[0]!).string(1, weight);
  for (const output of node.outputs) w.string(2, output);
  return w.string(3, node.name).string(4, 'MatMul').finish();
}
