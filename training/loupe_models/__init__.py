"""Tiny PyTorch re-implementations of the modules a ConvLLaVA bundle is made of."""

from .convnext import ConvNeXtConfig, ConvNeXtEncoder
from .llama import LlamaConfig, LlamaDecoder
from .projector import MlpGeluProjector

__all__ = [
    "ConvNeXtConfig",
    "ConvNeXtEncoder",
    "LlamaConfig",
    "LlamaDecoder",
    "MlpGeluProjector",
]
