"""Llama-style decoder (RMSNorm, rotary, GQA, SwiGLU) written for a clean ONNX trace.

Everything that depends on sequence lengths (causal mask, rotary angles) is computed
from tensor shapes and `position_ids` inside `forward`, so the traced graph stays
valid for any batch, prompt length and past length, including an empty past.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

KVCache = list[tuple[torch.Tensor, torch.Tensor]]

# Finite instead of -inf: a row whose keys are all masked (left padding) then softmaxes
# to a uniform row instead of NaN.
_MASKED = -1e9


@dataclass
class LlamaConfig:
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 16
    max_position_embeddings: int = 512
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    vocab_size: int = 512
    # Biases on q/k/v (not o): Qwen2 is this decoder with attention_bias=True.
    attention_bias: bool = False


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        bias = cfg.attention_bias
        self.q_proj = nn.Linear(cfg.hidden_size, cfg.num_attention_heads * cfg.head_dim, bias=bias)
        self.k_proj = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * cfg.head_dim, bias=bias)
        self.v_proj = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * cfg.head_dim, bias=bias)
        self.o_proj = nn.Linear(cfg.num_attention_heads * cfg.head_dim, cfg.hidden_size, bias=False)
        self.keep_probs = False
        self.probs: torch.Tensor | None = None

    def _heads(self, x: torch.Tensor, n: int) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], n, self.cfg.head_dim).transpose(1, 2)  # [B, n, S, hd]

    def forward(self, x, cos, sin, allowed, past_k, past_v):
        cfg = self.cfg
        q = self._heads(self.q_proj(x), cfg.num_attention_heads)
        k = self._heads(self.k_proj(x), cfg.num_key_value_heads)
        v = self._heads(self.v_proj(x), cfg.num_key_value_heads)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # The cache holds the un-repeated KV heads: that is what `present.*` exports.
        k = torch.cat((past_k, k), dim=2)
        v = torch.cat((past_v, v), dim=2)
        rep = cfg.num_attention_heads // cfg.num_key_value_heads
        k_all = k[:, :, None].expand(-1, -1, rep, -1, -1).flatten(1, 2)
        v_all = v[:, :, None].expand(-1, -1, rep, -1, -1).flatten(1, 2)
        scores = q @ k_all.transpose(-1, -2) / math.sqrt(cfg.head_dim)
        scores = torch.where(allowed, scores, torch.full_like(scores, _MASKED))
        probs = torch.softmax(scores, dim=-1)
        if self.keep_probs:  # training/evidence.py reads them: the reference of `attention_last`
            self.probs = probs
        out = probs @ v_all
        return self.o_proj(out.transpose(1, 2).flatten(2)), k, v


class SwiGLU(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x, cos, sin, allowed, past_k, past_v):
        h, k, v = self.self_attn(self.input_layernorm(x), cos, sin, allowed, past_k, past_v)
        x = x + h
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, k, v


class LlamaDecoder(nn.Module):
    """inputs_embeds -> logits. The token embedding table lives outside (its own ONNX
    graph) so image features can be spliced into `inputs_embeds` in between."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        inv_freq = 1.0 / cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def empty_cache(self, batch: int) -> KVCache:
        shape = (batch, self.cfg.num_key_value_heads, 0, self.cfg.head_dim)
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in range(self.cfg.num_hidden_layers)]

    def forward(
        self,
        inputs_embeds: torch.Tensor,  # [B, S, D]
        attention_mask: torch.Tensor,  # [B, past + S] int64, 1 = attend
        position_ids: torch.Tensor,  # [B, S] int64
        past: KVCache,
    ) -> tuple[torch.Tensor, KVCache]:
        # Rotary angles from position_ids (HF Llama: cat(freqs, freqs), rotate-half).
        freqs = position_ids[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # [B, 1, S, hd]
        cos, sin = emb.cos(), emb.sin()

        # Query i sits at absolute index past + i and may see keys j <= past + i that
        # the attention mask keeps.
        seq = inputs_embeds.shape[1]
        total = attention_mask.shape[1]
        key_pos = torch.arange(total, device=inputs_embeds.device)
        query_pos = key_pos[total - seq :]
        causal = key_pos[None, :] <= query_pos[:, None]  # [S, T]
        allowed = causal[None, None] & (attention_mask[:, None, None, :] != 0)  # [B, 1, S, T]

        x = inputs_embeds
        present: KVCache = []
        for layer, (past_k, past_v) in zip(self.layers, past):
            x, k, v = layer(x, cos, sin, allowed, past_k, past_v)
            present.append((k, v))
        return self.lm_head(self.norm(x)), present
