"""Phi-2's decoder (MC-LLaVA-3b's language model), with the same calling convention and
cache layout as `LlamaDecoder`, so the same export gives the ecosystem's decoder graph.

HF Phi, as the released checkpoints name it: per layer one LayerNorm (`input_layernorm`,
with bias) feeding attention and MLP in parallel, x + attn(h) + mlp(h); q/k/v/`dense`
with biases; rotary on the first `partial_rotary_factor * head_dim` dims of each head
(rotate-half), the rest passed through; MLP fc1 -> gelu_new (tanh) -> fc2;
`final_layernorm`; `lm_head` with bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .llama import KVCache, rotate_half

_MASKED = -1e9


@dataclass
class PhiConfig:
    hidden_size: int = 64
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    partial_rotary_factor: float = 0.4
    rope_theta: float = 10000.0
    layer_norm_eps: float = 1e-5
    vocab_size: int = 512
    max_position_embeddings: int = 512

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def num_key_value_heads(self) -> int:
        return self.num_attention_heads

    @property
    def rotary_dim(self) -> int:
        return int(self.partial_rotary_factor * self.head_dim)


class PhiAttention(nn.Module):
    def __init__(self, cfg: PhiConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_size
        self.q_proj, self.k_proj, self.v_proj, self.dense = (nn.Linear(d, d) for _ in range(4))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], self.cfg.num_attention_heads, self.cfg.head_dim).transpose(1, 2)

    def _rotary(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        r = self.cfg.rotary_dim
        rot, rest = x[..., :r], x[..., r:]
        return torch.cat((rot * cos + rotate_half(rot) * sin, rest), dim=-1)

    def forward(self, h, cos, sin, allowed, past_k, past_v):
        q = self._rotary(self._heads(self.q_proj(h)), cos, sin)
        k = torch.cat((past_k, self._rotary(self._heads(self.k_proj(h)), cos, sin)), dim=2)
        v = torch.cat((past_v, self._heads(self.v_proj(h))), dim=2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.cfg.head_dim)
        scores = torch.where(allowed, scores, torch.full_like(scores, _MASKED))
        out = torch.softmax(scores, dim=-1) @ v
        return self.dense(out.transpose(1, 2).flatten(2)), k, v


class TanhGeluMlp(nn.Module):
    """fc1 -> tanh-approximated GELU -> fc2 (Phi's gelu_new, SigLIP's gelu_pytorch_tanh)."""

    def __init__(self, width: int, inner: int):
        super().__init__()
        self.fc1 = nn.Linear(width, inner)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(inner, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class PhiLayer(nn.Module):
    def __init__(self, cfg: PhiConfig):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.self_attn = PhiAttention(cfg)
        self.mlp = TanhGeluMlp(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x, cos, sin, allowed, past_k, past_v):
        h = self.input_layernorm(x)
        attn, k, v = self.self_attn(h, cos, sin, allowed, past_k, past_v)
        return x + attn + self.mlp(h), k, v


class PhiDecoder(nn.Module):
    """inputs_embeds -> logits, as LlamaDecoder (the embedding table lives outside)."""

    def __init__(self, cfg: PhiConfig):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(PhiLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.final_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size)
        r = cfg.rotary_dim
        self.register_buffer("inv_freq", 1.0 / cfg.rope_theta ** (torch.arange(0, r, 2, dtype=torch.float32) / r), persistent=False)

    def empty_cache(self, batch: int) -> KVCache:
        shape = (batch, self.cfg.num_key_value_heads, 0, self.cfg.head_dim)
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in range(self.cfg.num_hidden_layers)]

    def forward(self, inputs_embeds, attention_mask, position_ids, past: KVCache):
        freqs = position_ids[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]
        cos, sin = emb.cos(), emb.sin()
        seq, total = inputs_embeds.shape[1], attention_mask.shape[1]
        key_pos = torch.arange(total, device=inputs_embeds.device)
        causal = key_pos[None, :] <= key_pos[total - seq :][:, None]
        allowed = causal[None, None] & (attention_mask[:, None, None, :] != 0)
        x = inputs_embeds
        present: KVCache = []
        for layer, (past_k, past_v) in zip(self.layers, past):
            x, k, v = layer(x, cos, sin, allowed, past_k, past_v)
            present.append((k, v))
        return self.lm_head(self.final_layernorm(x)), present
