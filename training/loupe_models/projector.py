"""LLaVA's `mlp2x_gelu` projector: vision width -> LLM width."""

import torch
from torch import nn


class MlpGeluProjector(nn.Module):
    def __init__(self, vision_dim: int, text_dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(vision_dim, text_dim)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(text_dim, text_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))
