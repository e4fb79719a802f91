#!/usr/bin/env bash
# Loupe on a GPU machine without a browser (issue #15), in one go: the vision encoder on
# onnxruntime-web's WebGPU build in Node (Dawn, bench/node-webgpu.mjs, checked against
# onnxruntime-node) and in PyTorch eager fp32 / fp16 (training/eager_bench.py) on the same
# bundle, as JSON lines under $OUT, with a table at the end.
#
#   OUT=/tmp/gpu bash bench/gpu.sh                     # the shipped bundle, 768-3072 px, 5 runs
#   OUT=/tmp/gpu bash bench/gpu.sh --dry-run           # any machine: SwiftShader and the CPU, tiny sizes
#
# Options: --bundle DIR (default public/models/loupe-synth), --sizes 768,1536 (square inputs),
# --runs N, --dtype int8|fp32 (the WebGPU path's vision_encoder file; default: the bundle's),
# --webgpu DIR (the `webgpu` package's folder, for a machine that cannot reach the npm registry),
# --dry-run (Dawn on Chromium's SwiftShader, PyTorch on the CPU, the tiny bundle at 64 / 128 px).
#
# What it installs when missing: the project's node_modules (npm ci), the `webgpu` package
# (npm install --no-save webgpu@0.6.2), the Vulkan loader (apt-get install libvulkan1, as root).
# Files under $OUT: machine.txt, webgpu-node.jsonl, pytorch-eager.jsonl, summary.txt, and
# errors.txt when a part failed (the other part still runs; the exit status is then 1).
set -uo pipefail
cd "$(dirname "$0")/.."

BUNDLE=public/models/loupe-synth
SIZES=768,1024,1536,2048,3072
RUNS=5
DTYPE=
WEBGPU_DIR=
DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE=$2; shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --dtype) DTYPE=$2; shift 2 ;;
    --webgpu) WEBGPU_DIR=$2; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    *) echo "bench/gpu.sh: unknown option $1 (see the header of this file)" >&2; exit 2 ;;
  esac
done
if [ -z "${OUT:-}" ]; then echo "bench/gpu.sh: set OUT to the folder for the results" >&2; exit 2; fi
if [ "$DRY" = 1 ]; then
  BUNDLE=public/models/tiny-random-convllava SIZES=64,128 RUNS=2
  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
fi
mkdir -p "$OUT"
: > "$OUT/errors.txt"
say() { echo "[gpu] $*" >&2; }
fail() { say "FAILED: $*"; echo "$*" >> "$OUT/errors.txt"; }
PY=$(command -v /usr/bin/python3 || command -v python3)

# What this machine is.
{
  echo "date: $(date -u +%FT%TZ)"
  echo "node: $(node --version 2>&1)"
  echo "python: $($PY --version 2>&1); torch: $($PY -c 'import torch; print(torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -1)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"
  echo "cpus: $(nproc)"
  echo "dry run: $DRY; bundle: $BUNDLE; sizes: $SIZES; runs: $RUNS"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# What it needs.
if [ ! -d node_modules/onnxruntime-web ] || [ ! -d node_modules/onnxruntime-node ]; then
  say "installing the project's packages (npm ci)"
  npm ci --no-audit --no-fund >&2 || fail "npm ci failed: this machine needs the npm registry, or a copy of node_modules"
fi
WEBGPU_ARGS=()
if [ -n "$WEBGPU_DIR" ]; then
  WEBGPU_ARGS=(--webgpu "$WEBGPU_DIR")
elif ! node -e "require.resolve('webgpu')" 2>/dev/null; then
  say "installing Dawn for Node (npm install --no-save webgpu@0.6.2)"
  npm install --no-save --no-audit --no-fund webgpu@0.6.2 >&2 || fail "npm install webgpu failed: pass --webgpu DIR (index.js, package.json, dist/linux-x64/dawn.node)"
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing the Vulkan loader (apt-get install libvulkan1)"
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends libvulkan1; } >&2 || true
  fi
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' && [ -e /usr/lib/chromium/libvulkan.so.1 ]; then
    say "no system Vulkan loader: using Chromium's (/usr/lib/chromium)"
    export LD_LIBRARY_PATH=/usr/lib/chromium${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  fi
fi
if [ "$DRY" = 0 ] && command -v nvidia-smi >/dev/null && ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  say "note: no NVIDIA Vulkan ICD file found (nvidia_icd.json); Dawn may find no adapter (the driver's graphics libraries are needed, not only CUDA)"
fi

# The WebGPU path in Node, checked against onnxruntime-node on the CPU.
say "WebGPU in Node (Dawn): $BUNDLE at $SIZES"
node bench/node-webgpu.mjs --bundle "$BUNDLE" --sizes "$SIZES" --runs "$RUNS" --check ${DTYPE:+--dtype "$DTYPE"} "${WEBGPU_ARGS[@]}" \
  > "$OUT/webgpu-node.jsonl" || fail "bench/node-webgpu.mjs exited $? (its output: $OUT/webgpu-node.jsonl)"

# PyTorch eager on the same graph's weights.
if [ "$DRY" = 1 ]; then DEVICE=cpu; DTYPES=fp32; else DEVICE=cuda; DTYPES=fp32,fp16; fi
say "PyTorch eager ($DEVICE, $DTYPES): $BUNDLE at $SIZES"
$PY -m training.eager_bench --bundle "$BUNDLE" --device "$DEVICE" --dtypes "$DTYPES" --sizes "$SIZES" --runs "$RUNS" \
  > "$OUT/pytorch-eager.jsonl" || fail "training.eager_bench exited $? (its output: $OUT/pytorch-eager.jsonl)"

# One table: median ms of an encode, per size.
node - "$OUT" <<'EOF' > "$OUT/summary.txt"
const fs = require('fs');
const out = process.argv[2];
const rows = ['webgpu-node.jsonl', 'pytorch-eager.jsonl'].flatMap((f) => {
  try { return fs.readFileSync(`${out}/${f}`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { return []; }
}).filter((r) => r.stage === 'encode');
const columns = [...new Set(rows.map((r) => `${r.runtime} ${r.provider} ${r.dtype}`))];
const sizes = [...new Set(rows.map((r) => r.resolution))].sort((a, b) => a - b);
console.log(`| input | ${columns.join(' | ')} |`);
console.log(`|---|${columns.map(() => '---:').join('|')}|`);
for (const size of sizes) {
  const cells = columns.map((c) => rows.find((r) => r.resolution === size && `${r.runtime} ${r.provider} ${r.dtype}` === c));
  console.log(`| ${size}² | ${cells.map((r) => (r ? `${r.median.toFixed(1)} ms` : '–')).join(' | ')} |`);
}
EOF
cat "$OUT/summary.txt" >&2
if [ -s "$OUT/errors.txt" ]; then say "done with errors: $OUT/errors.txt"; exit 1; fi
rm -f "$OUT/errors.txt"
say "done: $OUT"
