"""FastViTHD in miniature: the FastVLM image tower, in its inference (reparameterised) form.

Apple's FastViTHD: a stride-4 convolutional stem, three RepMixer stages (strides 4, 8,
16), two attention stages (32, 64), each stage opened by a strided large-kernel
depthwise + pointwise patch embedding, attention stages preceded by a convolutional
position encoding, and a final grouped 3x3 `conv_exp` with squeeze-excite that doubles
the width (1536 -> 3072 = mm_hidden_size). Batch norms are folded into the convolutions
(as after `reparameterize_model`); the attention blocks use a channel LayerNorm. Any
input whose sides are multiples of 64 works: nothing depends on the grid size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ..loupe_models.convnext import ChannelLayerNorm


@dataclass
class FastViTConfig:
    widths: list[int] = field(default_factory=lambda: [4, 8, 16, 32, 64])  # strides 4..64
    depths: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 1])
    attention_stages: int = 2  # the last ones
    head_dim: int = 16
    mlp_ratio: int = 2  # the released FastViTs use 3; 2 keeps the bundle under 3 MB
    expansion: int = 2  # conv_exp: width of the cells the projector reads

    @property
    def stride(self) -> int:
        return 4 * 2 ** (len(self.widths) - 1)

    @property
    def out_dim(self) -> int:
        return self.widths[-1] * self.expansion


def _conv_act(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups), nn.GELU())


class ConvFFN(nn.Module):
    """Depthwise 7x7, then a 1x1 MLP (FastViT's ConvFFN)."""

    def __init__(self, dim: int, ratio: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.fc1 = nn.Conv2d(dim, dim * ratio, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(dim * ratio, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.dwconv(x))))


class LayerScale(nn.Module):
    """Per-channel residual scale; the parameter is named like ConvNeXt's so
    `tiny_model.init_weights` draws it in [0.5, 1] (the image must move the output)."""

    def __init__(self, dim: int):
        super().__init__()
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * x


class RepMixerBlock(nn.Module):
    """Token mixing by a depthwise 3x3 (the reparameterised RepMixer), then ConvFFN."""

    def __init__(self, dim: int, ratio: int):
        super().__init__()
        self.mixer = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.ffn = ConvFFN(dim, ratio)
        self.scale = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mixer(x)
        return x + self.scale(self.ffn(x))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, dim: int, head_dim: int):
        super().__init__()
        self.heads, self.head_dim = dim // head_dim, head_dim
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # [B, HW, C]
        qkv = self.qkv(tokens).reshape(b, -1, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax(q @ k.transpose(-1, -2) * self.head_dim**-0.5, dim=-1)
        out = self.proj((attn @ v).transpose(1, 2).reshape(b, -1, c))
        return out.transpose(1, 2).reshape(b, c, h, w)


class AttentionBlock(nn.Module):
    def __init__(self, dim: int, cfg: FastViTConfig):
        super().__init__()
        self.norm = ChannelLayerNorm(dim, eps=1e-6)
        self.attn = MultiHeadSelfAttention(dim, cfg.head_dim)
        self.scale_1 = LayerScale(dim)
        self.ffn = ConvFFN(dim, cfg.mlp_ratio)
        self.scale_2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.scale_1(self.attn(self.norm(x)))
        return x + self.scale_2(self.ffn(x))


class PatchEmbed(nn.Module):
    """Stride-2 downsampling: 7x7 depthwise-style conv (groups = input width), then 1x1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.reduce = _conv_act(cin, cout, 7, stride=2, groups=cin)
        self.pointwise = _conv_act(cout, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.reduce(x))


class ConditionalPosition(nn.Module):
    """RepCPE: a residual depthwise 7x7, the only position signal the attention sees."""

    def __init__(self, dim: int):
        super().__init__()
        self.pe = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe(x)


class SqueezeExcite(nn.Module):
    def __init__(self, dim: int, reduced: int):
        super().__init__()
        self.reduce = nn.Conv2d(dim, reduced, 1)
        self.expand = nn.Conv2d(reduced, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.relu(self.reduce(x.mean(dim=(2, 3), keepdim=True)))
        return x * torch.sigmoid(self.expand(s))


class FastViTEncoder(nn.Module):
    """pixel_values [B,3,H,W] -> cells [B, (H/64)*(W/64), out_dim], row-major."""

    def __init__(self, cfg: FastViTConfig):
        super().__init__()
        self.cfg = cfg
        w0 = cfg.widths[0]
        self.stem = nn.Sequential(
            _conv_act(3, w0, 3, stride=2),
            _conv_act(w0, w0, 3, stride=2, groups=w0),
            _conv_act(w0, w0, 1),
        )
        stages = []
        first_attention = len(cfg.widths) - cfg.attention_stages
        for i, (width, depth) in enumerate(zip(cfg.widths, cfg.depths)):
            layers: list[nn.Module] = [] if i == 0 else [PatchEmbed(cfg.widths[i - 1], width)]
            if i >= first_attention:
                layers.append(ConditionalPosition(width))
                layers += [AttentionBlock(width, cfg) for _ in range(depth)]
            else:
                layers += [RepMixerBlock(width, cfg.mlp_ratio) for _ in range(depth)]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.conv_exp = nn.Sequential(
            nn.Conv2d(cfg.widths[-1], cfg.out_dim, 3, padding=1, groups=cfg.widths[-1]),
            SqueezeExcite(cfg.out_dim, cfg.out_dim // 4),
            nn.GELU(),
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.stem(pixel_values)
        for stage in self.stages:
            x = stage(x)
        return self.conv_exp(x).flatten(2).transpose(1, 2)


@torch.no_grad()
def unit_variance_init(encoder: FastViTEncoder, seed: int) -> None:
    """Scale every convolution and Linear of the tower, in order, so that its output
    varies with unit standard deviation across a fixed batch of smooth random images (the
    job the folded batch norms of a trained FastViT do). Without it a randomly
    initialised tower this deep forgets its input: the image-dependent part decays stage
    by stage and the biases remain."""
    gen = torch.Generator().manual_seed(seed)
    images = F.interpolate(torch.rand(4, 3, 8, 12, generator=gen), size=(128, 192), mode="bilinear", align_corners=False)
    for layer in [m for m in encoder.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]:
        captured: list[torch.Tensor] = []
        handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
        encoder(images)
        handle.remove()
        spread = float(captured[0].std(dim=0).mean())  # across images, not across positions
        layer.weight.div_(spread)
        if layer.bias is not None:
            layer.bias.div_(spread)
