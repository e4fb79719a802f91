"""Configurations of the two models and of a training run, as plain dataclasses (saved
as JSON next to every checkpoint, so evaluation and export rebuild the exact model)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..loupe_models import ConvNeXtConfig, LlamaConfig

MODEL_NAMES = ("convllava", "vit336")


@dataclass
class VitConfig:
    image_size: int = 336
    patch_size: int = 14
    hidden_size: int = 256
    depth: int = 6
    num_heads: int = 4
    mlp_ratio: float = 4.0
    pos_embed: str = "sincos"  # "sincos" (2-D, fixed) | "learned"
    layer_norm_eps: float = 1e-6

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_tokens(self) -> int:
        return self.grid**2


@dataclass
class ModelConfig:
    name: str  # convllava | vit336
    text: LlamaConfig
    convnext: ConvNeXtConfig | None = None
    vit: VitConfig | None = None
    layer_scale_init: float = 1e-6  # ConvNeXt's usual init for trained (not random) models
    # MC-LLaVA: the ViT runs over the whole image and overlapping crops, with a coordinate
    # embedding (multicrop.py); the knobs are the bundle's defaults.
    multicrop: dict | None = None
    # PIIP: `convnext` is the narrow high-resolution branch, this the rest (pyramid.PyramidSpec).
    pyramid: dict | None = None

    @property
    def encoder(self) -> str:
        return "convnext" if self.convnext is not None else "vit"

    @property
    def vision_width(self) -> int:
        return self.convnext.hidden_sizes[-1] if self.convnext is not None else self.vit.hidden_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(
            name=d["name"],
            text=LlamaConfig(**d["text"]),
            convnext=ConvNeXtConfig(**d["convnext"]) if d.get("convnext") else None,
            vit=VitConfig(**d["vit"]) if d.get("vit") else None,
            layer_scale_init=d.get("layer_scale_init", 1e-6),
            multicrop=d.get("multicrop"),
            pyramid=d.get("pyramid"),
        )


def text_config(vocab_size: int, smoke: bool = False) -> LlamaConfig:
    if smoke:
        return LlamaConfig(
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, max_position_embeddings=1024, vocab_size=vocab_size,
        )
    return LlamaConfig(
        hidden_size=384, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=6,
        num_key_value_heads=2, head_dim=64, max_position_embeddings=1024, vocab_size=vocab_size,
    )


def model_config(name: str, vocab_size: int, smoke: bool = False) -> ModelConfig:
    """The shipped ConvLLaVA and its control share the decoder; the encoders have about
    the same number of parameters (4.6 M vs 4.9 M at full size)."""
    text = text_config(vocab_size, smoke)
    if name == "convllava":
        vision = (
            ConvNeXtConfig(hidden_sizes=[8, 16, 24, 32, 48], depths=[1, 1, 1, 1, 1])
            if smoke
            else ConvNeXtConfig(hidden_sizes=[32, 64, 128, 256, 384], depths=[2, 2, 4, 2, 2])
        )
        return ModelConfig(name=name, text=text, convnext=vision)
    if name == "vit336":
        vit = VitConfig(image_size=56, hidden_size=48, depth=2, num_heads=2) if smoke else VitConfig()
        return ModelConfig(name=name, text=text, vit=vit)
    raise ValueError(f"Unknown model: {name!r} (expected one of {MODEL_NAMES})")


@dataclass
class DataConfig:
    source: str = "auto"  # "synth" (training.synth), "fake" (fake_data.py), "auto" = synth if importable
    square_resolutions: list[int] = field(default_factory=lambda: [768, 1024, 1536])
    # Sampling weights of square_resolutions + "native" (after the curriculum).
    resolution_weights: list[float] = field(default_factory=lambda: [0.15, 0.2, 0.45])
    native_weight: float = 0.2
    token_budget: int = 576  # native-aspect: at most this many visual tokens
    # Curriculum: the first batches all use the smallest square size (format and
    # answer vocabulary are learnt there at a third of the 1536 cost), then mix.
    curriculum_batches: int = 300
    vit_resolution: int = 336
    questions_per_image: int = 4  # decoder rows per scene: one rendering serves several questions
    scene_reuse: int = 2  # each rendered scene group is emitted this many times (new size, new questions)
    fake_long_side: list[int] = field(default_factory=lambda: [1500, 4000])


def smoke_data_config() -> DataConfig:
    return DataConfig(
        source="fake", square_resolutions=[128, 256], resolution_weights=[0.4, 0.4], native_weight=0.2,
        token_budget=16, curriculum_batches=2, vit_resolution=56, questions_per_image=2, fake_long_side=[300, 600],
    )


@dataclass
class TrainConfig:
    model: str = "convllava"
    minutes: float = 9.0
    max_steps: int = 0  # 0 = until the time budget is spent
    batch: int = 32  # scenes per step (rows = batch * questions_per_image)
    lr: float = 1e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 200
    # The cosine needs a horizon; the run stops on time, so this is an estimate of the
    # steps the budget allows (train.py refines it from measured step times).
    planned_steps: int = 3000
    weight_decay: float = 0.05
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "cuda"
    bf16: bool = True
    compile: bool = False
    num_workers: int = 14
    prefetch_factor: int = 4
    log_every: int = 10
    smoke: bool = False
