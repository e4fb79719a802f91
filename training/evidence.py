"""The PyTorch reference of an answer's evidence (issue #16): where in the image the decoder
looked while it wrote the answer.

For each answer token, the attention of the position that predicted it to every image
position, averaged over heads and layers (as ViCrop does), then over the answer's tokens.
One full forward over prompt + answer gives every row at once; the runtime builds the same
rows one step at a time from the decoder's `attention_last` output
(training/evidence_output.py) and must agree within 1e-3.
"""

from __future__ import annotations

import numpy as np
import torch

from .loupe_models import LlamaDecoder


@torch.no_grad()
def attention_rows(decoder: LlamaDecoder, inputs_embeds: torch.Tensor, queries: range) -> torch.Tensor:
    """[layers, len(queries), total]: head-averaged attention of each query position, no cache."""
    n = inputs_embeds.shape[1]
    layers = [layer.self_attn for layer in decoder.layers]
    for attn in layers:
        attn.keep_probs = True
    try:
        decoder(inputs_embeds, torch.ones(1, n, dtype=torch.long), torch.arange(n)[None], decoder.empty_cache(1))
        return torch.stack([attn.probs[0, :, list(queries)].mean(0) for attn in layers])
    finally:
        for attn in layers:
            attn.keep_probs = False
            attn.probs = None


def answer_evidence(decoder: LlamaDecoder, inputs_embeds: torch.Tensor, prompt_len: int, answer_len: int, image: tuple[int, int]) -> np.ndarray:
    """Per image token (`image` = (start, length) in the sequence): the mean over layers and
    answer tokens of the attention that produced each answer token. `inputs_embeds` holds the
    prompt and the answer tokens but the last (the position after it predicts nothing kept)."""
    start, length = image
    rows = attention_rows(decoder, inputs_embeds, range(prompt_len - 1, prompt_len - 1 + answer_len))
    return rows[:, :, start : start + length].mean(dim=(0, 1)).numpy().astype(np.float32)
