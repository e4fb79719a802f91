/**
 * WGSL for Pillow's separable resampling in the same 22-bit fixed point as the CPU path, so
 * both give identical bytes: integer weights, a half-unit bias, an arithmetic shift, a clamp.
 * Pixels travel packed in u32 (RGBA8 in, RGB8 out).
 */
const CLIP = /* wgsl */ `
fn clip8(sum: i32) -> u32 { return u32(clamp(sum >> 22u, 0, 255)); }
const HALF: i32 = 2097152;
`;

export const HORIZONTAL = /* wgsl */ `
struct Params { srcWidth: u32, rows: u32, outCols: u32, x0: u32, ksize: u32, rowOffset: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> starts: array<u32>;
@group(0) @binding(3) var<storage, read> counts: array<u32>;
@group(0) @binding(4) var<storage, read> weights: array<i32>;
@group(0) @binding(5) var<storage, read_write> mid: array<u32>;
${CLIP}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let col = id.x;
  let row = id.y;
  if (col >= p.outCols || row >= p.rows) { return; }
  let xx = col + p.x0;
  let start = starts[xx];
  let count = counts[xx];
  let base = xx * p.ksize;
  var r = HALF;
  var g = HALF;
  var b = HALF;
  for (var k = 0u; k < count; k++) {
    let w = weights[base + k];
    let px = src[row * p.srcWidth + start + k];
    r += i32(px & 255u) * w;
    g += i32((px >> 8u) & 255u) * w;
    b += i32((px >> 16u) & 255u) * w;
  }
  mid[(p.rowOffset + row) * p.outCols + col] = clip8(r) | (clip8(g) << 8u) | (clip8(b) << 16u);
}`;

export const VERTICAL = /* wgsl */ `
struct Params { outCols: u32, outRows: u32, y0: u32, ksize: u32, firstRow: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> mid: array<u32>;
@group(0) @binding(2) var<storage, read> starts: array<u32>;
@group(0) @binding(3) var<storage, read> counts: array<u32>;
@group(0) @binding(4) var<storage, read> weights: array<i32>;
@group(0) @binding(5) var<storage, read_write> dst: array<u32>;
${CLIP}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let col = id.x;
  let oy = id.y;
  if (col >= p.outCols || oy >= p.outRows) { return; }
  let yy = oy + p.y0;
  let start = starts[yy] - p.firstRow;
  let count = counts[yy];
  let base = yy * p.ksize;
  var r = HALF;
  var g = HALF;
  var b = HALF;
  for (var k = 0u; k < count; k++) {
    let w = weights[base + k];
    let px = mid[(start + k) * p.outCols + col];
    r += i32(px & 255u) * w;
    g += i32((px >> 8u) & 255u) * w;
    b += i32((px >> 16u) & 255u) * w;
  }
  dst[oy * p.outCols + col] = clip8(r) | (clip8(g) << 8u) | (clip8(b) << 16u);
}`;
