"""The whole tiny ConvLLaVA in PyTorch: init from a seed, splice image features into the
prompt, greedy decoding with a KV cache. This is the reference the ONNX graphs (and the
TypeScript runtime's golden tests) are compared against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .loupe_models import ConvNeXtConfig, ConvNeXtEncoder, LlamaConfig, LlamaDecoder, MlpGeluProjector
from .loupe_models.llama import RMSNorm
from .loupe_models.position import grid_uv, sincos_code

# Logit spread: lm_head weights are scaled so logits have roughly this std. Large
# enough that greedy choices are clear-cut (top-2 margins well above ORT-vs-torch noise).
LOGIT_STD = 3.0


class VisionTower(nn.Module):
    """What `vision_encoder.onnx` contains: ConvNeXt + projector (already LLM width)."""

    def __init__(self, vision: ConvNeXtConfig, text_dim: int):
        super().__init__()
        self.cfg = vision
        self.encoder = ConvNeXtEncoder(vision)
        self.projector = MlpGeluProjector(vision.hidden_sizes[-1], text_dim)

    def _with_position(self, x: torch.Tensor, pixel_values: torch.Tensor, uv: torch.Tensor | None) -> torch.Tensor:
        if not self.cfg.position_code:
            return x
        if uv is None:
            stride = self.cfg.stride
            uv = grid_uv(pixel_values.shape[2] // stride, pixel_values.shape[3] // stride, x.device)[None]
        return x + self.cfg.position_code * sincos_code(uv, x.shape[-1])

    def cells(self, pixel_values: torch.Tensor, uv: torch.Tensor | None = None) -> torch.Tensor:
        """The tower's output cells before the projector, with the position code when the
        config has one. uv [B, N, 2] overrides the cell centres (a window of a larger input)."""
        return self._with_position(self.encoder(pixel_values), pixel_values, uv)

    def dense(self, pixel_values: torch.Tensor, uv: torch.Tensor | None = None, cells: bool = True):
        """({stride: NHWC map} of stages 2 and 3, output cells or None): what dense
        supervision reads. cells=False runs the first three stages only."""
        maps = self.encoder.stage_maps(pixel_values, None if cells else 3)
        fine = {self.cfg.patch_size * 2**i: maps[i].permute(0, 2, 3, 1) for i in (1, 2)}
        if not cells:
            return fine, None
        out = maps[-1].permute(0, 2, 3, 1).flatten(1, 2)
        return fine, self._with_position(out, pixel_values, uv)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.projector(self.cells(pixel_values))


class TinyConvLlava(nn.Module):
    def __init__(self, vision: ConvNeXtConfig, text: LlamaConfig):
        super().__init__()
        self.vision_cfg, self.text_cfg = vision, text
        self.vision = VisionTower(vision, text.hidden_size)
        self.embed_tokens = nn.Embedding(text.vocab_size, text.hidden_size)
        self.decoder = LlamaDecoder(text)


def _uniform_(t: torch.Tensor, std: float, gen: torch.Generator) -> None:
    # Uniform rather than normal: no outliers, so 4-bit per-block min/max quantization
    # loses little and the q4 graph stays close to fp32.
    bound = std * math.sqrt(3.0)
    with torch.no_grad():
        t.uniform_(-bound, bound, generator=gen)


def init_weights(model: TinyConvLlava, seed: int) -> None:
    """Every parameter drawn from one generator in module order: same seed, same bytes."""
    gen = torch.Generator().manual_seed(seed)
    for module_name, module in model.named_modules():
        is_norm = isinstance(module, (nn.LayerNorm, RMSNorm))
        for name, p in module.named_parameters(recurse=False):
            full = f"{module_name}.{name}"
            with torch.no_grad():
                if name == "layer_scale":
                    # Not the usual 1e-6: the image has to move the output visibly.
                    p.uniform_(0.5, 1.0, generator=gen)
                elif is_norm and name == "weight":
                    # Near 1 but not exactly, so a runtime that ignores them fails.
                    p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
                elif p.dim() == 1:
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))  # biases
                elif full == "embed_tokens.weight":
                    p.copy_(torch.randn(p.shape, generator=gen))
                elif full == "decoder.lm_head.weight":
                    _uniform_(p, LOGIT_STD / math.sqrt(p.shape[1]), gen)
                else:
                    fan_in = p[0].numel()  # Linear: in; Conv: in/groups * kh * kw
                    _uniform_(p, 1.0 / math.sqrt(fan_in), gen)


@dataclass
class GreedyResult:
    prompt_logits: torch.Tensor  # [vocab] at the last prompt position
    ids: list[int]
    margins: list[float]  # top1 - top2 of the logits each new id was picked from


def expand_image_tokens(prompt_ids: list[int], image_token_id: int, num_image_tokens: int) -> list[int]:
    out: list[int] = []
    for i in prompt_ids:
        out.extend([i] * num_image_tokens if i == image_token_id else [i])
    return out


@torch.no_grad()
def prompt_embeddings(model: TinyConvLlava, input_ids: list[int], image_features: torch.Tensor, image_token_id: int):
    ids = torch.tensor([input_ids], dtype=torch.long)
    embeds = model.embed_tokens(ids)
    rows = (ids[0] == image_token_id).nonzero().flatten()
    if len(rows) != image_features.shape[1]:
        raise ValueError(f"{len(rows)} <image> positions but {image_features.shape[1]} image features")
    embeds[0, rows] = image_features[0]
    return embeds


@torch.no_grad()
def greedy_generate(model: TinyConvLlava, inputs_embeds: torch.Tensor, max_new_tokens: int) -> GreedyResult:
    """Prefill with an empty cache, then one token per step, as the runtime does."""
    dec = model.decoder
    n = inputs_embeds.shape[1]
    past = dec.empty_cache(1)
    mask = torch.ones(1, n, dtype=torch.long)
    pos = torch.arange(n)[None]
    x = inputs_embeds
    ids: list[int] = []
    margins: list[float] = []
    prompt_logits = None
    for _ in range(max_new_tokens):
        logits, past = dec(x, mask, pos, past)
        last = logits[0, -1]
        if prompt_logits is None:
            prompt_logits = last.clone()
        top2 = torch.topk(last, 2).values
        margins.append(float(top2[0] - top2[1]))
        next_id = int(last.argmax())
        ids.append(next_id)
        x = model.embed_tokens(torch.tensor([[next_id]]))
        pos = torch.tensor([[mask.shape[1]]])
        mask = torch.ones(1, mask.shape[1] + 1, dtype=torch.long)
    return GreedyResult(prompt_logits=prompt_logits, ids=ids, margins=margins)
