"""What differs between the families: the model, tokenizer, prompt format, processor and
the JSON files of the bundle. `build.py` does the rest the same way for each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from torch import nn

from ..loupe_models import LlamaConfig
from ..tokenizer_bpe import ByteLevelBPE
from .clip_processor import ClipProcessorConfig


@dataclass
class Family:
    name: str  # directory under public/models/ and e2e/fixtures/
    text: LlamaConfig
    make_encoder: Callable[[], tuple[nn.Module, int]]  # -> (image tower, its output width)
    tokenizer: ByteLevelBPE
    render_prompt: Callable[[list[dict[str, str]]], str]  # Python twin of the chat template
    processor: ClipProcessorConfig
    patch_size: int  # processor_config.json: one image token per patch_size^2 pixels
    image_token_id: int
    special_ids: set[int]  # a seed that generates one of these is rejected
    trace_size: tuple[int, int]  # vision export trace input (height, width)
    dynamic_size: bool  # vision graph takes any multiple of the stride
    exact_image_size: tuple[int, int]  # (w, h) with shortest edge = S: crop without resampling
    json_files: Callable[["Family"], dict[str, dict]]  # bundle file name -> content
    # After tiny_model.init_weights: (model, seed) -> None, e.g. a tower's scale calibration.
    after_init: Optional[Callable[[nn.Module, int], None]] = None
    # {module: {dtype: feature names}}: what single fp16 / q4f16 variants also exercise
    # (families/variants.py FEATURES: external data, num_logits_to_keep, float16 KV cache).
    variant_features: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def num_image_tokens(self) -> int:
        p = self.patch_size
        return (self.processor.crop_height // p) * (self.processor.crop_width // p)
