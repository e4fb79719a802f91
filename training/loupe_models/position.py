"""A fixed 2-D sin-cos code of each visual token's place in the image, added to a vision
tower's output cells.

The code depends on the cell's centre normalised by the grid ((col + 0.5) / cols,
(row + 0.5) / rows), not on the grid size, so a place in the image gets the same code at
768, 1536 or any native aspect. It has no parameters and is computed from the input's
shape inside the graph. Why it exists: a decoder with 1-D rotary positions cannot tell
left from right across rows of a flattened grid, and a convolutional tower trained on
crops cannot know where its crop lies; the ViT control gets the same information from
its own 2-D sin-cos embedding.
"""

from __future__ import annotations

import math

import torch

# Frequencies in cycles per image side: from a quarter cycle (monotonic over the image,
# a linear read-out of position) to 16 cycles (finer than a cell at 24 x 24).
LOWEST, HIGHEST = 0.25, 16.0


def frequencies(dim: int) -> torch.Tensor:
    n = dim // 4
    if n < 1 or dim % 4:
        raise ValueError(f"a 2-D sin-cos code needs a width divisible by 4, got {dim}")
    steps = torch.arange(n, dtype=torch.float32) / max(1, n - 1)
    return 2 * math.pi * LOWEST * (HIGHEST / LOWEST) ** steps


def sincos_code(uv: torch.Tensor, dim: int) -> torch.Tensor:
    """uv [..., 2] in [0, 1] -> [..., dim]: sin/cos of u, then sin/cos of v."""
    freqs = frequencies(dim).to(uv.device)
    u = uv[..., :1] * freqs
    v = uv[..., 1:2] * freqs
    return torch.cat([u.sin(), u.cos(), v.sin(), v.cos()], dim=-1)


def grid_uv(rows, cols, device=None) -> torch.Tensor:
    """[rows * cols, 2] cell centres, row-major (the token order). rows / cols may be
    traced shape values, so the exported graph works for any input size."""
    v = (torch.arange(rows, device=device).float() + 0.5) / rows
    u = (torch.arange(cols, device=device).float() + 0.5) / cols
    vv = v[:, None].expand(-1, u.shape[0])
    uu = u[None, :].expand(v.shape[0], -1)
    return torch.stack([uu, vv], dim=-1).reshape(-1, 2)
