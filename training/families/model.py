"""A family VLM: image tower + `mlp2x_gelu` projector (one graph, `vision_encoder`), token
embeddings (`embed_tokens`) and a Llama-style decoder (`decoder_model_merged`).

Same attribute names as `tiny_model.TinyConvLlava`, so `tiny_model.init_weights`,
`greedy_generate`, `prompt_embeddings`, `quant_sim` and `export_onnx` take it as is.
"""

from __future__ import annotations

import torch
from torch import nn

from ..loupe_models import LlamaConfig, LlamaDecoder, MlpGeluProjector


class ProjectedTower(nn.Module):
    """What `vision_encoder.onnx` contains: tower cells already projected to LLM width."""

    def __init__(self, encoder: nn.Module, encoder_dim: int, text_dim: int):
        super().__init__()
        self.encoder = encoder
        self.projector = MlpGeluProjector(encoder_dim, text_dim)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(pixel_values))


class FamilyVLM(nn.Module):
    def __init__(self, encoder: nn.Module, encoder_dim: int, text: LlamaConfig):
        super().__init__()
        self.text_cfg = text
        self.vision = ProjectedTower(encoder, encoder_dim, text.hidden_size)
        self.embed_tokens = nn.Embedding(text.vocab_size, text.hidden_size)
        self.decoder = LlamaDecoder(text)
