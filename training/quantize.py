"""Weight quantization written directly against the ONNX formats onnxruntime documents
(onnxruntime's own quantizer is not available here).

- q4: com.microsoft `MatMulNBits`, 4-bit, blocks of 32 along K, asymmetric per-block
  min/max with a 4-bit zero point. Used for the decoder (every Linear incl. lm_head).
  The checkpoint converter (training/convert) searches each block's range and keeps
  lm_head at 8 bits (`quantize_blocks`).
- int8: weight-only, symmetric per output channel, standard `DequantizeLinear` feeding
  the original op. Used for the convolutional encoder and the embedding table, which
  MatMulNBits cannot cover.

The numpy quantize/dequantize pairs are also used to simulate the quantized models in
PyTorch, so a seed can be rejected before anything is exported.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

Q4_BLOCK = 32
Q4_MAX = 15
MS_DOMAIN = "com.microsoft"
INT8_MIN_ELEMENTS = 64


# ---- 4-bit blocks (MatMulNBits) -------------------------------------------------


def quantize_q4(b_kn: np.ndarray, block: int = Q4_BLOCK, search: bool = False):
    """B [K, N] float -> (packed uint8 [N, nb, block/2], scales f32 [N*nb], zero points
    uint8 [N * ceil(nb/2)]), nb = ceil(K / block). K is zero-padded to whole blocks.
    search: each block's range is the one of `CLIP_CANDIDATES` (min/max shrunk towards 0)
    with the least squared error, instead of min/max itself."""
    return quantize_blocks(b_kn, 4, block, search)


def dequantize_q4(packed: np.ndarray, scales: np.ndarray, zp_packed: np.ndarray, k: int) -> np.ndarray:
    """Inverse of `quantize_q4` -> B [K, N] float32 (what MatMulNBits multiplies by)."""
    return dequantize_blocks(packed, scales, zp_packed, k, 4)


# A block's range [lo, hi] (both including 0) is tried at these fractions of its min / max:
# clipping the extremes trades their error for a finer step on the rest (what llama.cpp's
# and AWQ's range searches do). 16 candidates cost 3x min/max alone.
CLIP_CANDIDATES = np.linspace(0.6, 1.0, 16)


def quantize_blocks(b_kn: np.ndarray, bits: int, block: int = Q4_BLOCK, search: bool = False):
    """MatMulNBits' layout for bits 4 or 8: asymmetric blocks of `block` along K, one float
    scale and one unsigned zero point per block. 4 bits pack two values per byte (element
    2j in the low nibble) and two zero points per byte; 8 bits store one per byte."""
    if bits not in (4, 8):
        raise ValueError(f"MatMulNBits blocks of {bits} bits: expected 4 or 8")
    top = (1 << bits) - 1
    k, n = b_kn.shape
    nb = -(-k // block)
    w = np.zeros((n, nb * block), dtype=np.float32)
    w[:, :k] = b_kn.T  # MatMulNBits stores B transposed: one row per output column
    w = w.reshape(n, nb, block)
    # The range always includes 0 so the zero point is exactly representable.
    lo0 = np.minimum(w.min(axis=-1), 0.0)
    hi0 = np.maximum(w.max(axis=-1), 0.0)
    best = None
    for f in CLIP_CANDIDATES if search else (1.0,):
        scale = (hi0 - lo0) * np.float32(f) / top
        scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
        zp = np.clip(np.round(-lo0 * np.float32(f) / scale), 0, top).astype(np.uint8)
        q = np.clip(np.round(w / scale[..., None]) + zp[..., None], 0, top).astype(np.uint8)
        if not search:
            best = (q, scale, zp)
            break
        err = np.square((q.astype(np.float32) - zp[..., None]) * scale[..., None] - w).sum(axis=-1)
        if best is None:
            best, best_err = (q, scale, zp), err
            continue
        better = err < best_err
        best[0][better], best[1][better], best[2][better] = q[better], scale[better], zp[better]
        best_err = np.where(better, err, best_err)
    q, scale, zp = best
    if bits == 8:
        return q, scale.reshape(-1), zp.reshape(-1)
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)  # element 2j low nibble
    zp_padded = np.zeros((n, nb + nb % 2), dtype=np.uint8)
    zp_padded[:, :nb] = zp
    zp_packed = (zp_padded[:, 0::2] | (zp_padded[:, 1::2] << 4)).astype(np.uint8)
    return packed, scale.reshape(-1), zp_packed.reshape(-1)


def dequantize_blocks(data: np.ndarray, scales: np.ndarray, zero_points: np.ndarray, k: int, bits: int) -> np.ndarray:
    """Inverse of `quantize_blocks` -> B [K, N] float32 (what MatMulNBits multiplies by)."""
    if bits == 8:
        n, nb, _ = data.shape
        q, zp = data.astype(np.float32), zero_points.reshape(n, nb).astype(np.float32)
    else:
        n, nb, half = data.shape
        q = np.empty((n, nb, 2 * half), dtype=np.float32)
        q[..., 0::2] = data & 0x0F
        q[..., 1::2] = data >> 4
        zps = zero_points.reshape(n, -1)
        zp = np.stack([zps & 0x0F, zps >> 4], axis=-1).reshape(n, -1)[:, :nb].astype(np.float32)
    w = (q - zp[..., None]) * scales.reshape(n, nb)[..., None]
    return np.ascontiguousarray(w.reshape(n, -1)[:, :k].T)


# ---- int8 per channel (DequantizeLinear) ----------------------------------------


def quantize_int8(w: np.ndarray, axis: int):
    """Symmetric: scale = max|w| / 127 per slice along `axis`, zero point 0."""
    reduce_axes = tuple(i for i in range(w.ndim) if i != axis)
    scale = np.abs(w).max(axis=reduce_axes) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def dequantize_int8(q: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    shape = [1] * q.ndim
    shape[axis] = -1
    return (q.astype(np.float32) * scale.reshape(shape)).astype(np.float32)


# ---- graph rewriting -------------------------------------------------------------


def _initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def _replace_initializers(model: onnx.ModelProto, drop: set[str], add: list[onnx.TensorProto]) -> None:
    kept = [t for t in model.graph.initializer if t.name not in drop]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept + add)


def to_matmul_nbits(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Every MatMul whose B is a 2-D float initializer becomes MatMulNBits(bits=4)."""
    model = _copy(model)
    inits = _initializers(model)
    new_nodes, drop, add, count = [], set(), [], 0
    for node in model.graph.node:
        b = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        if b is None or len(b.dims) != 2 or b.data_type != onnx.TensorProto.FLOAT:
            new_nodes.append(node)
            continue
        w = numpy_helper.to_array(b)
        k, n = w.shape
        packed, scales, zps = quantize_q4(w)
        base = b.name.replace(":", "_")
        add += [
            numpy_helper.from_array(packed, f"{base}_Q4"),
            numpy_helper.from_array(scales, f"{base}_scales"),
            numpy_helper.from_array(zps, f"{base}_zero_points"),
        ]
        drop.add(b.name)
        new_nodes.append(
            helper.make_node(
                "MatMulNBits",
                [node.input[0], f"{base}_Q4", f"{base}_scales", f"{base}_zero_points"],
                list(node.output),
                name=f"{node.name}_Q4",
                domain=MS_DOMAIN,
                K=k,
                N=n,
                bits=4,
                block_size=Q4_BLOCK,
            )
        )
        count += 1
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    _replace_initializers(model, drop, add)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return model, count


# (op type, weight input index, output-channel axis of that weight)
_INT8_TARGETS = {"Conv": (1, 0), "MatMul": (1, 1), "Gather": (0, 0)}


def to_int8_weights(model: onnx.ModelProto, copy: bool = True) -> tuple[onnx.ModelProto, int]:
    """Conv / MatMul / Gather float weights (>= 64 elements) -> int8 + DequantizeLinear.
    copy=False rewrites `model` itself (no second float copy: the converter at 7B)."""
    if copy:
        model = _copy(model)
    inits = _initializers(model)
    dequant_nodes, drop, add = [], set(), []
    replaced: dict[str, str] = {}
    for node in model.graph.node:
        target = _INT8_TARGETS.get(node.op_type)
        if target is None:
            continue
        index, axis = target
        name = node.input[index]
        t = inits.get(name)
        if t is None or t.data_type != onnx.TensorProto.FLOAT or np.prod(t.dims) < INT8_MIN_ELEMENTS:
            continue
        if name not in replaced:
            q, scale = quantize_int8(numpy_helper.to_array(t), axis)
            base = name.replace(":", "_")
            add += [
                numpy_helper.from_array(q, f"{base}_quantized"),
                numpy_helper.from_array(scale, f"{base}_scale"),
                numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), f"{base}_zero_point"),
            ]
            dequant_nodes.append(
                helper.make_node(
                    "DequantizeLinear",
                    [f"{base}_quantized", f"{base}_scale", f"{base}_zero_point"],
                    [f"{base}_dequantized"],
                    name=f"{base}_DequantizeLinear",
                    axis=axis,
                )
            )
            drop.add(name)
            replaced[name] = f"{base}_dequantized"
        node.input[index] = replaced[name]
    # Dequantize nodes only read initializers, so putting them first keeps the graph
    # topologically sorted.
    nodes = dequant_nodes + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    _replace_initializers(model, drop, add)
    return model, len(replaced)


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out
