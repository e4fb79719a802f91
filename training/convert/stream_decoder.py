"""A Llama (or Phi-2) decoder written as a q4 ONNX graph tensor by tensor, never as a
PyTorch module: the memory-safe path for 7B checkpoints (fp32 would be 27 GB; this machine
has 24) and MC-LLaVA's 3B (11 GB as a float32 module).

Each weight arrives from the checkpoint's shards (one shard in memory at a time), is
quantised on its own (q / k / v / o / gate / up / down to 4-bit `MatMulNBits` blocks with
each block's range searched, lm_head to 8-bit blocks, norms kept float32: `WEIGHT_BITS`)
and appended to `<file>_data`, `<file>_data_1`, ... (a new file
before one would pass 2 GB: protobuf's cap, and what transformers.js expects); the graph,
built with `onnx.helper`, only points at those bytes. Its inputs, outputs and maths are
the traced export's (training/export_onnx.py over loupe_models/llama.py), so the runtime
cannot tell them apart; `src/models/converted.test.ts` checks the two against each other.

Peak memory: the largest shard as `torch.load` returns it (bf16), plus what quantising one
weight takes, 1024 rows at a time (measure_memory.py measures it; the fp32 module would
need 27 GB at 7B).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Iterable

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from ..export_onnx import OPSET
from ..quantize import MS_DOMAIN, Q4_BLOCK, dequantize_blocks, quantize_blocks

TENSOR_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8}
CHUNK_LIMIT = 2**31 - 2**24  # bytes per data file, under protobuf's 2 GB
MASKED = -1e9


class ExternalData:
    """Appends raw little-endian tensors to `<onnx file>_data[_k]` files."""

    def __init__(self, onnx_path: Path, limit: int = CHUNK_LIMIT):
        self.base, self.limit = onnx_path, limit
        self.files: list[Path] = []
        self.handle = None
        self.offset = 0

    def _roll(self) -> None:
        if self.handle:
            self.handle.close()
        k = len(self.files)
        path = self.base.with_name(self.base.name + ("_data" if k == 0 else f"_data_{k}"))
        self.files.append(path)
        self.handle, self.offset = path.open("wb"), 0

    def add(self, name: str, array: np.ndarray) -> TensorProto:
        raw = np.ascontiguousarray(array).tobytes()
        if self.handle is None or (self.offset + len(raw) > self.limit and self.offset > 0):
            self._roll()
        self.handle.write(raw)
        tensor = TensorProto(name=name, data_type=TENSOR_TYPES[array.dtype], dims=list(array.shape))
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self.files[-1].name), ("offset", str(self.offset)), ("length", str(len(raw)))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        self.offset += len(raw)
        return tensor

    def close(self) -> None:
        if self.handle:
            self.handle.close()


class Graph:
    """Nodes with generated output names, small constants inline."""

    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[TensorProto] = []
        self.count = 0

    def op(self, op_type: str, *inputs: str, outputs: int = 1, domain: str | None = None, **attrs) -> str | list[str]:
        self.count += 1
        names = [f"/{op_type.lower()}_{self.count}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=f"/{op_type}_{self.count}", domain=domain, **attrs))
        return names[0] if outputs == 1 else names

    def const(self, value, dtype=np.float32) -> str:
        self.count += 1
        name = f"/const_{self.count}"
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name


ROWS_PER_CHUNK = 1024
# Bits of a decoder matrix's MatMulNBits blocks, by its key ("lm_head", "3.mlp.fc1", ...).
# lm_head stays at 8 bits, as llama.cpp keeps its output matrix at 6 and onnxruntime-genai's
# builder offers. With the searched 4-bit ranges it moved the tiny releases' first logits
# from cosine 0.9888 / 0.9853 (MC-LLaVA / PIIP, min / max 4-bit everywhere) to 0.9936 / 0.9914
# (e2e/fixtures/convert/*golden.json). At 7B it adds 67 MB to a 4.2 GB decoder.
WIDE_BITS = {"lm_head": 8}
SEARCH_RANGES = True


def weight_bits(key: str) -> int:
    return WIDE_BITS.get(key, 4)


def on_grid(weight: torch.Tensor, key: str) -> torch.Tensor:
    """A Linear weight [N, K] as the converted graph multiplies by it (quantised, then
    dequantised): what a reference runs to check the q4 graph exactly."""
    bits, b = weight_bits(key), weight.float().numpy().T
    return torch.from_numpy(dequantize_blocks(*quantize_blocks(b, bits, Q4_BLOCK, SEARCH_RANGES), k=b.shape[0], bits=bits).T.copy())


def _store_blocks(data: ExternalData, weight: torch.Tensor, name: str, key: str, inits: list[TensorProto]) -> tuple[int, int, int]:
    """A PyTorch Linear weight [N, K] as MatMulNBits blocks in the data file -> (K, N, bits).
    Quantised 1024 output rows at a time (every block lies in one row), so a float32 copy of
    the whole weight (lm_head: 0.5 GB at 7B) never exists."""
    n, k = weight.shape
    bits = weight_bits(key)
    parts = [quantize_blocks(weight[i : i + ROWS_PER_CHUNK].float().numpy().T, bits, Q4_BLOCK, SEARCH_RANGES) for i in range(0, n, ROWS_PER_CHUNK)]
    packed, scales, zps = (np.concatenate([p[j] for p in parts]) for j in range(3))
    inits += [data.add(f"{name}_Q4", packed), data.add(f"{name}_scales", scales), data.add(f"{name}_zero_points", zps)]
    return k, n, bits


def _q4_node(g: Graph, x: str, name: str, k: int, n: int, bits: int) -> str:
    return g.op("MatMulNBits", x, f"{name}_Q4", f"{name}_scales", f"{name}_zero_points", domain=MS_DOMAIN, K=k, N=n, bits=bits, block_size=Q4_BLOCK)


def _rms(g: Graph, x: str, weight: str, eps: float) -> str:
    mean = g.op("ReduceMean", g.op("Mul", x, x), axes=[-1], keepdims=1)
    return g.op("Mul", g.op("Mul", x, g.op("Reciprocal", g.op("Sqrt", g.op("Add", mean, g.const(eps))))), weight)


def _heads(g: Graph, x: str, heads: int, dim: int) -> str:
    return g.op("Transpose", g.op("Reshape", x, g.const([0, 0, heads, dim], np.int64)), perm=[0, 2, 1, 3])


def _rotary(g: Graph, x: str, cos: str, sin: str, dim: int) -> str:
    first, second = g.op("Split", x, g.const([dim // 2, dim // 2], np.int64), axis=-1, outputs=2)
    rotated = g.op("Concat", g.op("Neg", second), first, axis=-1)
    return g.op("Add", g.op("Mul", x, cos), g.op("Mul", rotated, sin))


def _repeat_kv(g: Graph, x: str, rep: int, heads: int, dim: int) -> str:
    if rep == 1:
        return x
    shape = g.op("Shape", x)  # [B, kv, T, hd]
    expanded = g.op("Concat", g.op("Slice", shape, g.const([0], np.int64), g.const([2], np.int64)), g.const([rep], np.int64),
                    g.op("Slice", shape, g.const([2], np.int64), g.const([4], np.int64)), axis=0)
    return g.op("Reshape", g.op("Expand", g.op("Unsqueeze", x, g.const([2], np.int64)), expanded), g.const([0, heads, -1, dim], np.int64))


def write_llama_q4(cfg: dict, weights: Iterable[tuple[str, torch.Tensor]], path: Path, extra_rows: int = 0, never: dict[int, float] | None = None) -> dict:
    """The q4 decoder graph of a Llama checkpoint (HF names) -> `path` and its data files.
    extra_rows: zero rows appended to lm_head (tokens the bundle adds, e.g. <image>),
    `never`: {token id: logit bias} added after lm_head. Returns {data files, bytes}."""
    layers, hidden, heads = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
    kv, dim, eps = cfg.get("num_key_value_heads", heads), hidden // heads, cfg.get("rms_norm_eps", 1e-6)
    data = ExternalData(path)
    inits: list[TensorProto] = []
    stored: dict = {}  # key -> initializer name (norms) or (K, N, bits) of its MatMulNBits blocks
    g = Graph()
    # Weights first, in whatever order the shards hold them: norms as float32 tensors,
    # matrices straight to MatMulNBits blocks (their nodes are wired below by name).
    for name, tensor in weights:
        m = re.match(r"^model\.layers\.(\d+)\.(.+)\.weight$", name)
        key = f"{m[1]}.{m[2]}" if m else {"model.norm.weight": "norm", "lm_head.weight": "lm_head"}.get(name)
        if key is None:
            continue
        if key.endswith("layernorm") or key == "norm":
            inits.append(data.add(f"w/{key}", tensor.float().numpy()))
            stored[key] = f"w/{key}"
        else:
            if key == "lm_head" and extra_rows:
                tensor = torch.cat([tensor, torch.zeros(extra_rows, tensor.shape[1], dtype=tensor.dtype)])  # in its own dtype
            stored[key] = _store_blocks(data, tensor, f"w/{key}", key, inits)  # quantised now; only (K, N, bits) kept
    data.close()
    x = "inputs_embeds"
    cos, sin = _rotary_tables(g, dim, cfg.get("rope_theta", 10000.0))
    allowed = _allowed(g)

    def q4(x_in: str, key: str) -> str:
        return _q4_node(g, x_in, f"w/{key}", *stored[key])

    for i in range(layers):
        h = _rms(g, x, stored[f"{i}.input_layernorm"], eps)
        q = _rotary(g, _heads(g, q4(h, f"{i}.self_attn.q_proj"), heads, dim), cos, sin, dim)
        k = _rotary(g, _heads(g, q4(h, f"{i}.self_attn.k_proj"), kv, dim), cos, sin, dim)
        v = _heads(g, q4(h, f"{i}.self_attn.v_proj"), kv, dim)
        attn = _attention(g, q, k, v, i, allowed, heads, kv, dim)
        x = g.op("Add", x, q4(attn, f"{i}.self_attn.o_proj"))
        h = _rms(g, x, stored[f"{i}.post_attention_layernorm"], eps)
        gate = q4(h, f"{i}.mlp.gate_proj")
        x = g.op("Add", x, q4(g.op("Mul", g.op("Mul", gate, g.op("Sigmoid", gate)), q4(h, f"{i}.mlp.up_proj")), f"{i}.mlp.down_proj"))
    logits = q4(_rms(g, x, stored["norm"], eps), "lm_head")
    vocab = cfg["vocab_size"] + extra_rows
    if never:
        bias = np.zeros(vocab, dtype=np.float32)
        for token, value in never.items():
            bias[token] = value
        logits = g.op("Add", logits, g.const(bias))
    return _finish(g, logits, inits, data, path, layers, kv, dim, hidden, vocab)


def _rotary_tables(g: Graph, dim: int, theta: float) -> tuple[str, str]:
    """cos / sin [B, 1, S, dim] of the positions, shared by every layer."""
    inv = (1.0 / theta ** (np.arange(0, dim, 2, dtype=np.float32) / dim)).astype(np.float32)
    freqs = g.op("Mul", g.op("Unsqueeze", g.op("Cast", "position_ids", to=TensorProto.FLOAT), g.const([-1], np.int64)), g.const(inv))
    angles = g.op("Unsqueeze", g.op("Concat", freqs, freqs, axis=-1), g.const([1], np.int64))
    return g.op("Cos", angles), g.op("Sin", angles)


def _allowed(g: Graph) -> str:
    """[B, 1, S, T] bool: causal over the cache and the new tokens, and the attention mask."""
    total = g.op("Gather", g.op("Shape", "attention_mask"), g.const(1, np.int64), axis=0)
    seq = g.op("Gather", g.op("Shape", "inputs_embeds"), g.const(1, np.int64), axis=0)
    keys = g.op("Range", g.const(0, np.int64), total, g.const(1, np.int64))
    queries = g.op("Range", g.op("Sub", total, seq), total, g.const(1, np.int64))
    causal = g.op("LessOrEqual", g.op("Unsqueeze", keys, g.const([0], np.int64)), g.op("Unsqueeze", queries, g.const([1], np.int64)))
    keep = g.op("Unsqueeze", g.op("Cast", "attention_mask", to=TensorProto.BOOL), g.const([1, 2], np.int64))
    return g.op("And", g.op("Unsqueeze", causal, g.const([0, 1], np.int64)), keep)


def _attention(g: Graph, q: str, k: str, v: str, i: int, allowed: str, heads: int, kv: int, dim: int) -> str:
    """Appends the new k / v to the cache (present.i.*) and attends over it -> [B, S, heads * dim]."""
    present_k = g.op("Concat", f"past_key_values.{i}.key", k, axis=2)
    present_v = g.op("Concat", f"past_key_values.{i}.value", v, axis=2)
    g.nodes.append(helper.make_node("Identity", [present_k], [f"present.{i}.key"]))
    g.nodes.append(helper.make_node("Identity", [present_v], [f"present.{i}.value"]))
    k_all, v_all = _repeat_kv(g, present_k, heads // kv, heads, dim), _repeat_kv(g, present_v, heads // kv, heads, dim)
    scores = g.op("Div", g.op("MatMul", q, g.op("Transpose", k_all, perm=[0, 1, 3, 2])), g.const(math.sqrt(dim)))
    scores = g.op("Where", allowed, scores, g.const(MASKED))
    attn = g.op("MatMul", g.op("Softmax", scores, axis=-1), v_all)
    return g.op("Reshape", g.op("Transpose", attn, perm=[0, 2, 1, 3]), g.const([0, 0, heads * dim], np.int64))


def _finish(g: Graph, logits: str, inits: list[TensorProto], data: ExternalData, path: Path, layers: int, kv: int, dim: int, hidden: int, vocab: int) -> dict:
    """The decoder I/O of the traced export around the nodes; saves `path`."""
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    kv_shape = ["batch_size", kv, "past_sequence_length", dim]
    graph_inputs = [
        helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch_size", "sequence_length", hidden]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
    ] + [helper.make_tensor_value_info(f"past_key_values.{i}.{t}", TensorProto.FLOAT, kv_shape) for i in range(layers) for t in ("key", "value")]
    graph_outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", vocab])] + [
        helper.make_tensor_value_info(f"present.{i}.{t}", TensorProto.FLOAT, ["batch_size", kv, "total_sequence_length", dim]) for i in range(layers) for t in ("key", "value")
    ]
    graph = helper.make_graph(g.nodes, path.stem, graph_inputs, graph_outputs, initializer=inits + g.constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)], producer_name="loupe-convert")
    onnx.save(model, str(path))
    return {"data_files": [f.name for f in data.files], "bytes": sum(f.stat().st_size for f in data.files) + path.stat().st_size}


def _layer_norm(g: Graph, x: str, weight: str, bias: str, eps: float) -> str:
    return g.op("LayerNormalization", x, weight, bias, axis=-1, epsilon=eps)


def _partial_rotary(g: Graph, x: str, cos: str, sin: str, rot: int, dim: int) -> str:
    """Rotate-half on the first `rot` dims of each head, the rest passed through."""
    if rot == dim:
        return _rotary(g, x, cos, sin, dim)
    head, rest = g.op("Split", x, g.const([rot, dim - rot], np.int64), axis=-1, outputs=2)
    return g.op("Concat", _rotary(g, head, cos, sin, rot), rest, axis=-1)


def _gelu_tanh(g: Graph, x: str) -> str:
    """0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))): Phi's gelu_new."""
    cube = g.op("Mul", g.op("Mul", x, x), x)
    inner = g.op("Mul", g.op("Add", x, g.op("Mul", cube, g.const(0.044715))), g.const(math.sqrt(2.0 / math.pi)))
    return g.op("Mul", g.op("Mul", x, g.const(0.5)), g.op("Add", g.op("Tanh", inner), g.const(1.0)))


PHI_NAMES = re.compile(r"^language_model\.(?:model\.layers\.(\d+)\.(.+)|model\.(final_layernorm)|(lm_head))\.(weight|bias)$")


def write_phi_q4(cfg: dict, weights: Iterable[tuple[str, torch.Tensor]], path: Path) -> dict:
    """The q4 decoder graph of MC-LLaVA's Phi-2 (`language_model.*` names) -> `path` and its
    data files, as write_llama_q4 does for Llama: q / k / v / dense / fc1 / fc2 / lm_head to
    MatMulNBits blocks as they arrive, LayerNorms and biases float32. Maths of
    loupe_models/phi.py: per layer one LayerNorm feeding attention and MLP in parallel,
    rotary on the first partial_rotary_factor of each head, gelu_new, final_layernorm,
    biased lm_head."""
    layers, hidden, heads = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
    dim, eps = hidden // heads, cfg.get("layer_norm_eps", 1e-5)
    rot = int(cfg.get("partial_rotary_factor", 0.4) * dim)
    data = ExternalData(path)
    inits: list[TensorProto] = []
    stored: dict = {}
    g = Graph()
    for name, tensor in weights:
        m = PHI_NAMES.match(name)
        if m is None:
            continue
        key = f"{m[1]}.{m[2]}" if m[1] is not None else (m[3] or m[4])
        kind = m[5]
        if kind == "bias" or key.endswith("layernorm"):
            inits.append(data.add(f"w/{key}.{kind}", tensor.float().numpy()))
            stored[f"{key}.{kind}"] = f"w/{key}.{kind}"
        else:
            stored[key] = _store_blocks(data, tensor, f"w/{key}", key, inits)
    data.close()
    cos, sin = _rotary_tables(g, rot, cfg.get("rope_theta", 10000.0))
    allowed = _allowed(g)

    def linear(x_in: str, key: str) -> str:
        return g.op("Add", _q4_node(g, x_in, f"w/{key}", *stored[key]), stored[f"{key}.bias"])

    x = "inputs_embeds"
    for i in range(layers):
        h = _layer_norm(g, x, stored[f"{i}.input_layernorm.weight"], stored[f"{i}.input_layernorm.bias"], eps)
        q = _partial_rotary(g, _heads(g, linear(h, f"{i}.self_attn.q_proj"), heads, dim), cos, sin, rot, dim)
        k = _partial_rotary(g, _heads(g, linear(h, f"{i}.self_attn.k_proj"), heads, dim), cos, sin, rot, dim)
        v = _heads(g, linear(h, f"{i}.self_attn.v_proj"), heads, dim)
        attn = linear(_attention(g, q, k, v, i, allowed, heads, heads, dim), f"{i}.self_attn.dense")
        mlp = linear(_gelu_tanh(g, linear(h, f"{i}.mlp.fc1")), f"{i}.mlp.fc2")
        x = g.op("Add", g.op("Add", x, attn), mlp)
    h = _layer_norm(g, x, stored["final_layernorm.weight"], stored["final_layernorm.bias"], eps)
    logits = linear(h, "lm_head")
    return _finish(g, logits, inits, data, path, layers, heads, dim, hidden, cfg["vocab_size"])
