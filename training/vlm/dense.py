"""Dense supervision of a vision tower: training-only heads, their loss and metrics.

Heads read the tower's fine maps (kind and colour of the object under each place) and its
output cells (which kind-colour pairs are centred in the cell, the word of a sign centred
there, and the cell's own position). None of them is exported: they shape the features
the projector and decoder will read.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .labels import IGNORE, NUM_COLOURS, NUM_KINDS, NUM_PAIRS, NUM_WORDS

BACKGROUND_WEIGHT = 0.25
POSITION_WEIGHT = 10.0
WORD_WEIGHT = 1.0
PAIRS_WEIGHT = 0.1


KINDS_N, COLOURS_N = NUM_KINDS - 1, NUM_COLOURS - 1
FINE_OUTPUTS = KINDS_N + NUM_COLOURS + NUM_WORDS  # kind, colour (0 = background), word (0 = no sign)
# The cell head's outputs, in order.
CELL_OUTPUTS = (("objectness", 1), ("kind", KINDS_N), ("colour", COLOURS_N), ("pairs", NUM_PAIRS), ("word", NUM_WORDS), ("uv", 2))


class DenseHeads(nn.Module):
    def __init__(self, fine_dims: dict[int, int], cell_dim: int, hidden: int = 256):
        super().__init__()
        self.fine = nn.ModuleDict({str(s): nn.Linear(d, FINE_OUTPUTS) for s, d in fine_dims.items()})
        self.cell = nn.Sequential(nn.Linear(cell_dim, hidden), nn.GELU(), nn.Linear(hidden, sum(n for _, n in CELL_OUTPUTS)))

    def forward(self, fine: dict[int, torch.Tensor], cells: torch.Tensor | None) -> dict[str, torch.Tensor]:
        out = {f"fine{s}": self.fine[str(s)](x) for s, x in fine.items()}
        if cells is None:
            return out
        c = self.cell(cells)
        start = 0
        for name, n in CELL_OUTPUTS:
            out[name] = c[..., start:start + n]
            start += n
        return out


def fine_dims(tower: nn.Module, pixels: torch.Tensor) -> tuple[dict[int, int], int]:
    with torch.no_grad():
        fine, cells = tower.dense(pixels)
    return {s: x.shape[-1] for s, x in fine.items()}, cells.shape[-1]


def _weights(n: int, device) -> torch.Tensor:
    w = torch.ones(n, device=device)
    w[0] = BACKGROUND_WEIGHT
    return w


def _fine_targets(batch: dict[str, torch.Tensor], stride: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Kind targets 0..8 on object pixels (IGNORE elsewhere: objectness is the colour
    head's "none" class), colour targets 0..11 (0 = background), word targets 1..150 on
    sign pixels (IGNORE elsewhere)."""
    kind = batch[f"kind{stride}"].reshape(-1)
    kind = torch.where((kind > 0) & (kind != IGNORE), kind - 1, torch.full_like(kind, IGNORE))
    word = batch[f"word{stride}"].reshape(-1)
    word = torch.where(word > 0, word, torch.full_like(word, IGNORE))
    return kind, batch[f"colour{stride}"].reshape(-1), word


def _single_cells(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]):
    """Cells holding exactly one object centre, and that object's kind and colour."""
    pairs = batch["pairs"].reshape(out["pairs"].shape)
    single = pairs.sum(-1) == 1
    truth = pairs[single].float().argmax(-1)
    return pairs, single, truth // COLOURS_N, truth % COLOURS_N


def dense_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    parts: dict[str, torch.Tensor] = {}
    for key, logits in out.items():
        if not key.startswith("fine"):
            continue
        stride = key[4:]
        kind, colour, word = _fine_targets(batch, stride)
        flat = logits.reshape(-1, logits.shape[-1])
        if bool((kind != IGNORE).any()):
            parts[f"kind{stride}"] = F.cross_entropy(flat[:, :KINDS_N], kind, ignore_index=IGNORE)
        parts[f"colour{stride}"] = F.cross_entropy(flat[:, KINDS_N:KINDS_N + NUM_COLOURS], colour, weight=_weights(NUM_COLOURS, flat.device))
        if bool((word != IGNORE).any()):
            parts[f"word{stride}"] = WORD_WEIGHT * F.cross_entropy(flat[:, KINDS_N + NUM_COLOURS:], word, ignore_index=IGNORE)
    if "pairs" not in out:
        return sum(parts.values()), {k: float(v) for k, v in parts.items()}
    pairs, single, kind, colour = _single_cells(out, batch)
    present = pairs.any(-1).float()
    parts["objectness"] = F.binary_cross_entropy_with_logits(out["objectness"][..., 0], present)
    if bool(single.any()):
        parts["cell_kind"] = F.cross_entropy(out["kind"][single], kind)
        parts["cell_colour"] = F.cross_entropy(out["colour"][single], colour)
    parts["pairs"] = PAIRS_WEIGHT * F.binary_cross_entropy_with_logits(out["pairs"], pairs.float(), reduction="sum") / present.numel()
    word = batch["word"].reshape(-1)
    has_word = word > 0
    if bool(has_word.any()):
        parts["word"] = WORD_WEIGHT * F.cross_entropy(out["word"].reshape(-1, NUM_WORDS)[has_word], word[has_word])
    parts["uv"] = POSITION_WEIGHT * F.mse_loss(out["uv"], batch["uv"].reshape(out["uv"].shape))
    total = sum(parts.values())
    return total, {k: float(v) for k, v in parts.items()}


@torch.no_grad()
def dense_metrics(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, tuple[int, int]]:
    """(hits, count) per metric: fine kind / colour on object pixels; on cells holding
    exactly one object centre: its kind, its colour, both; words on sign cells."""
    m: dict[str, tuple[int, int]] = {}
    for key, logits in out.items():
        if not key.startswith("fine"):
            continue
        stride = key[4:]
        kind, colour, word = _fine_targets(batch, stride)
        flat = logits.reshape(-1, logits.shape[-1])
        on = kind != IGNORE
        m[f"kind{stride}"] = (int((flat[on, :KINDS_N].argmax(-1) == kind[on]).sum()), int(on.sum()))
        on = colour > 0
        m[f"colour{stride}"] = (int((flat[on, KINDS_N:KINDS_N + NUM_COLOURS].argmax(-1) == colour[on]).sum()), int(on.sum()))
        on = word != IGNORE
        m[f"word{stride}"] = (int((flat[on, KINDS_N + NUM_COLOURS:].argmax(-1) == word[on]).sum()), int(on.sum()))
    if "pairs" not in out:
        return m
    _, single, kind, colour = _single_cells(out, batch)
    k_ok = out["kind"][single].argmax(-1) == kind
    c_ok = out["colour"][single].argmax(-1) == colour
    n = int(single.sum())
    m["cell_kind"], m["cell_colour"], m["cell_both"] = (int(k_ok.sum()), n), (int(c_ok.sum()), n), (int((k_ok & c_ok).sum()), n)
    word = batch["word"].reshape(-1)
    on = word > 0
    m["word"] = (int((out["word"].reshape(-1, NUM_WORDS)[on].argmax(-1) == word[on]).sum()), int(on.sum()))
    return m


def merge(total: dict[str, list[int]], m: dict[str, tuple[int, int]]) -> None:
    for k, (h, n) in m.items():
        acc = total.setdefault(k, [0, 0])
        acc[0] += h
        acc[1] += n


def rates(total: dict[str, list[int]]) -> dict[str, float]:
    return {k: round(100 * h / n, 2) for k, (h, n) in total.items() if n}
