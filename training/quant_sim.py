"""PyTorch copies of the model with quantize->dequantize applied to exactly the weights
the ONNX rewrites in `quantize.py` touch. Used to screen seeds and to produce the
reference logits the q4 graph is checked against."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .quantize import INT8_MIN_ELEMENTS, dequantize_int8, dequantize_q4, quantize_int8, quantize_q4
from .tiny_model import TinyConvLlava


def _set(p: torch.Tensor, value) -> None:
    with torch.no_grad():
        p.copy_(torch.from_numpy(value))


def with_q4_decoder(model: TinyConvLlava) -> TinyConvLlava:
    out = copy.deepcopy(model)
    for m in out.decoder.modules():
        if isinstance(m, nn.Linear):
            b = m.weight.detach().numpy().T  # ONNX MatMul B is [K, N]
            _set(m.weight, dequantize_q4(*quantize_q4(b), k=b.shape[0]).T.copy())
    return out


def with_int8_vision_and_embed(model: TinyConvLlava) -> TinyConvLlava:
    # Torch keeps the output channel on axis 0 for Conv, Linear and Embedding alike.
    out = copy.deepcopy(model)
    modules = [m for m in out.vision.modules() if isinstance(m, (nn.Conv2d, nn.Linear))] + [out.embed_tokens]
    for m in modules:
        w = m.weight.detach().numpy()
        if w.size >= INT8_MIN_ELEMENTS:
            _set(m.weight, dequantize_int8(*quantize_int8(w, axis=0), axis=0))
    return out


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    return float(a @ b / (a.norm() * b.norm()))
