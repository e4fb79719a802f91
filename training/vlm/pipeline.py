"""`npm run train`: Loupe-Synth from scratch on this machine's CPU, in resumable stages.

    /usr/bin/python3 -m training.vlm.pipeline                      # the shipped ConvLLaVA
    /usr/bin/python3 -m training.vlm.pipeline --model vit336       # the ViT-336 control, same recipe
    /usr/bin/python3 -m training.vlm.pipeline --model mcllava      # MC-LLaVA (issue 12), same recipe
    /usr/bin/python3 -m training.vlm.pipeline --model piip         # PIIP-LLaVA (issue 12), same recipe
    /usr/bin/python3 -m training.vlm.pipeline --smoke --out /tmp/s # every stage, tiny, ~1 min

Stages (each leaves OUT/<stage>.done.json; a rerun skips finished stages and resumes an
interrupted one from its last checkpoint, so the wall time adds up across restarts):

  1 windows   scenes -> windows of the model's input with dense labels (crops.py)
  2 encoder   the vision tower learns shapes, colours, words and places from those labels
              (stage_encoder.py): first on object-centred sub-windows, then whole windows
  3 features  the frozen tower encodes whole training scenes at 768 / 1024 / 1536 /
              native; cells and questions are kept (features.py)
  4 decoder   projector, embeddings and decoder learn to answer, several questions per
              row behind one image prefix (stage_decoder.py, packed.py)
  5 export    the bundle, its golden values and the onnxruntime-web check

Deterministic given --seed: every batch is a function of (seed, step), every shard of
(seed, shard). Progress lines show stage, step, losses, throughput and ETA; the same
entries go to OUT/train_log.jsonl.
"""

from __future__ import annotations

import os

# One process, two cores: torch's own threads do the work; OpenBLAS threads on top of them
# only contend (measured: 0.50 s vs 0.63-0.87 s per encoder step).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if __name__ == "__main__":  # before torch is imported: the re-executed process imports it once
    from .malloc import reexec_keeping_freed_memory

    reexec_keeping_freed_memory("training.vlm.pipeline")

import argparse  # noqa: E402
import fcntl  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from . import crops as crops_mod  # noqa: E402
from . import features as features_mod  # noqa: E402
from . import multicrop as multicrop_mod  # noqa: E402
from .config import ModelConfig, VitConfig  # noqa: E402
from .pyramid import PyramidSpec  # noqa: E402
from .data import load_source  # noqa: E402
from .model import build_model, count_parameters, init_for_training, save_checkpoint  # noqa: E402
from .progress import Progress, clock, say  # noqa: E402
from .stage_decoder import DecoderStageConfig, train_decoder  # noqa: E402
from .stage_encoder import EncoderPhase, EncoderStageConfig, train_encoder  # noqa: E402
from .tokenizer import build_tokenizer, load_tokenizer, save_tokenizer  # noqa: E402
from ..loupe_models import ConvNeXtConfig, LlamaConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
STAGES = ("windows", "encoder", "features", "decoder", "export")


@dataclass
class Recipe:
    """Sizes and budgets of one run. The defaults are the shipped model's."""

    model: str = "convllava"
    window_scenes: int = 4032
    windows_per_scene: int = 6
    encoder_phases: list = field(default_factory=lambda: [
        EncoderPhase("shapes", 5000, 128, 6e-3, window=64),
        EncoderPhase("cells", 1200, 16, 3e-3),
    ])
    feature_scenes: int = 1536
    decoder: DecoderStageConfig = field(default_factory=lambda: DecoderStageConfig(steps=2100, batch=4, questions=12))
    seed: int = 0


# The ViT's encoder stage gets the wall time the shipped ConvLLaVA's took (2424 s,
# training/results/train_summary.json): a step of 32 whole 336-pixel inputs measured 8.9 s
# here (2400 steps, the earlier setting, would take about 6 h).
VIT_ENCODER_STEPS = 270


def vit_recipe() -> Recipe:
    """The control: the same stages, features and decoder, and the same encoder wall budget;
    its windows are whole 336-pixel inputs (a ViT has no partial pass)."""
    return Recipe(model="vit336", window_scenes=12032, windows_per_scene=1,
                  encoder_phases=[EncoderPhase("cells", VIT_ENCODER_STEPS, 32, 1e-3)])


# MC-LLaVA's features cost ~20 tower passes a scene (the whole image and its crops at the
# drawn max_crops 4 / 16 / 64), so its features stage encodes half the scenes to stay in
# the same wall budget; the decoder's steps and rows are the others'.
MC_FEATURE_SCENES = 768


def mc_recipe() -> Recipe:
    """MC-LLaVA (issue 12): the control's ViT and its encoder budget, trained on the crops
    MC-LLaVA feeds it (multicrop.py); features and decoder as the others."""
    return replace(vit_recipe(), model="mcllava", feature_scenes=MC_FEATURE_SCENES)


# PIIP's inputs are the padded squares at PyramidSpec.resolutions (it has no native-aspect
# plan); the high branch sees them, the low branch their half-size downscale.
SQUARES = (("pyramid-square", 768, 0.2), ("pyramid-square", 1024, 0.2), ("pyramid-square", 1536, 0.6))
SMOKE_SQUARES = ((128, 0.5), (256, 0.5))


def piip_recipe() -> Recipe:
    """PIIP (issue 12): the ConvLLaVA recipe, stage for stage, on square inputs only."""
    return Recipe(model="piip")


def convllava_config(vocab: int, smoke: bool) -> ModelConfig:
    if smoke:
        vision = ConvNeXtConfig(hidden_sizes=[8, 16, 24, 32, 48], depths=[1, 1, 1, 1, 1], position_code=1.0)
    else:
        vision = ConvNeXtConfig(hidden_sizes=[32, 64, 128, 192, 256], depths=[1, 2, 2, 2, 1], position_code=1.0)
    return ModelConfig(name="convllava", text=text_config(vocab, smoke), convnext=vision, layer_scale_init=0.1)


def vit_config(vocab: int, smoke: bool) -> ModelConfig:
    vit = VitConfig(image_size=56, hidden_size=48, depth=2, num_heads=2) if smoke else VitConfig()
    return ModelConfig(name="vit336", text=text_config(vocab, smoke), vit=vit)


def mc_config(vocab: int, smoke: bool) -> ModelConfig:
    knobs = {"max_crops": multicrop_mod.DEFAULT_MAX_CROPS, "num_tokens": 64 if smoke else multicrop_mod.DEFAULT_NUM_TOKENS,
             "token_extent": multicrop_mod.TOKEN_EXTENT}
    return replace(vit_config(vocab, smoke), name="mcllava", multicrop=knobs)


def piip_config(vocab: int, smoke: bool) -> ModelConfig:
    """A narrow high-resolution branch (half the shipped tower's widths) and a wide
    low-resolution one on the half-size input: parameters inverted against resolution."""
    if smoke:
        high = ConvNeXtConfig(hidden_sizes=[8, 16, 24, 32, 48], depths=[1, 1, 1, 1, 1], position_code=1.0)
        spec = PyramidSpec(low=asdict(ConvNeXtConfig(hidden_sizes=[16, 24, 32, 48, 64], depths=[1, 1, 1, 1, 1])), heads=2, points=2, groups=8,
                           resolutions=[size for size, _ in SMOKE_SQUARES])
    else:
        high = ConvNeXtConfig(hidden_sizes=[16, 32, 64, 128, 192], depths=[1, 1, 2, 2, 1], position_code=1.0)
        spec = PyramidSpec(resolutions=[size for _, size, _ in SQUARES])
    return ModelConfig(name="piip", text=text_config(vocab, smoke), convnext=high, layer_scale_init=0.1, pyramid=asdict(spec))


MODEL_CONFIGS = {"convllava": convllava_config, "vit336": vit_config, "mcllava": mc_config, "piip": piip_config}
RECIPES = {"convllava": Recipe, "vit336": vit_recipe, "mcllava": mc_recipe, "piip": piip_recipe}
# Every model's bundle (under public/models) and the module that exports it; the ViT-336
# control's too, so it is measured in the browser beside the others.
BUNDLES = {"convllava": ("loupe-synth", "export"), "mcllava": ("loupe-synth-mc", "export_mc"), "piip": ("loupe-synth-piip", "export_piip"),
           "vit336": ("loupe-synth-vit336", "export_vit")}


def text_config(vocab: int, smoke: bool) -> LlamaConfig:
    if smoke:
        return LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, head_dim=16, max_position_embeddings=1024, vocab_size=vocab)
    return LlamaConfig(hidden_size=256, intermediate_size=704, num_hidden_layers=4, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=64, max_position_embeddings=1024, vocab_size=vocab)


def smoke_recipe(model: str) -> Recipe:
    return Recipe(model=model, window_scenes=4, windows_per_scene=2,
                  encoder_phases=[EncoderPhase("shapes", 3, 8, 3e-3, window=64), EncoderPhase("cells", 3, 4, 3e-3)],
                  feature_scenes=4, decoder=DecoderStageConfig(steps=4, batch=2, questions=4, warmup=2, log_every=2))


def window_spec(model: str, smoke: bool, scenes: int, per_scene: int) -> crops_mod.CropSpec:
    if model in ("vit336", "mcllava"):
        size = 56 if smoke else 336
        kind = "vit-square" if model == "vit336" else "mc-crop"
        return crops_mod.CropSpec(size=size, per_scene=1, strategies=((kind, size, 1.0),), cell=14, fine_strides=(14,))
    if smoke:
        kind = "pyramid-square" if model == "piip" else "convllava-square"
        return crops_mod.CropSpec(size=128, per_scene=per_scene, strategies=((kind, 256, 1.0),))
    return crops_mod.CropSpec(per_scene=per_scene, **({"strategies": SQUARES} if model == "piip" else {}))


def feature_spec(model: str, smoke: bool, scenes: int) -> features_mod.FeatureSpec:
    if model in ("vit336", "mcllava"):
        size = 56 if smoke else 336
        kind = "vit-square" if model == "vit336" else "multicrop"
        return features_mod.FeatureSpec(scenes=scenes, strategies=((kind, size, 1.0),))
    if smoke:
        kind = "pyramid-square" if model == "piip" else "convllava-square"
        return features_mod.FeatureSpec(scenes=scenes, strategies=tuple((kind, size, w) for size, w in SMOKE_SQUARES), derived_per_scene=4)
    return features_mod.FeatureSpec(scenes=scenes, **({"strategies": SQUARES} if model == "piip" else {}))


def blas_check() -> str:
    """Which BLAS torch's matrix products run on; refuses the reference BLAS (5-8x slower)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() and line.split()[-1].startswith("/")}
    if any("openblas" in lib or "mkl" in lib for lib in libs) or not libs:
        return ", ".join(sorted(libs)) or "linked statically"
    raise SystemExit(
        "torch is using the reference BLAS (" + ", ".join(sorted(libs)) + "), which makes training 5-8x slower.\n"
        "Install OpenBLAS (it takes over libblas.so.3 by alternatives): apt-get install -y libopenblas0-pthread")


class Run:
    def __init__(self, out: Path, recipe: Recipe, smoke: bool, bundle_out: Path | None, skip_node: bool):
        self.out, self.recipe, self.smoke = out, recipe, smoke
        self.bundle_out, self.skip_node = bundle_out, skip_node
        self.log = out / "train_log.jsonl"
        out.mkdir(parents=True, exist_ok=True)

    def hold(self) -> None:
        """One run per work directory: a second one (a background job thought stopped) would
        write the same shards and checkpoints under the first one's feet."""
        self._lock = open(self.out / ".lock", "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.seek(0)
            raise SystemExit(f"[train] another run (pid {self._lock.read().strip() or '?'}) is writing {self.out}: "
                             "stop it first, or give this one another --out") from None
        self._lock.truncate(0)
        self._lock.write(str(os.getpid()))
        self._lock.flush()

    def done(self, stage: str) -> dict | None:
        path = self.out / f"{stage}.done.json"
        return json.loads(path.read_text()) if path.exists() else None

    def finish(self, stage: str, info: dict) -> None:
        (self.out / f"{stage}.done.json").write_text(json.dumps(info, indent=1))
        Progress(stage, 1, self.log).write({"stage": stage, "done": info})

    def stage(self, name: str, fn) -> dict:
        info = self.done(name)
        if info is not None:
            say(f"[{name}] done earlier ({clock(info.get('wall_s', 0))}), skipping")
            return info
        t0 = time.time()
        partial = self.out / f"{name}.partial_s"
        before = float(partial.read_text()) if partial.exists() else 0.0
        try:
            info = fn() or {}
        finally:
            partial.write_text(str(before + time.time() - t0))
        info["wall_s"] = round(before + time.time() - t0, 1)
        self.finish(name, info)
        partial.unlink(missing_ok=True)
        return info


def tokenizer_and_model(run: Run) -> tuple:
    tok_path = run.out / "tokenizer.json"
    if tok_path.exists():
        tok = load_tokenizer(tok_path)
    else:
        tok = build_tokenizer(load_source("synth").corpus_texts())
        save_tokenizer(tok, tok_path)
    vocab = len(tok.vocab)
    mcfg = MODEL_CONFIGS[run.recipe.model](vocab, run.smoke)
    model = build_model(mcfg)
    init_for_training(model, mcfg, run.recipe.seed)
    return tok, mcfg, model


STOP_GRACE_S = 30


def stop(*_) -> None:
    """SIGTERM: unwind (stage wall time saved, pool ended). A run was seen to outlive its
    SIGTERM in the windows stage and go on training beside its replacement (an exit raised
    while Python runs a finaliser is only printed): so an alarm ends the process for good
    STOP_GRACE_S later (SIGALRM's default action)."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(STOP_GRACE_S)
    sys.exit(143)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Train Loupe-Synth on this machine (resumable stages).")
    p.add_argument("--model", choices=list(MODEL_CONFIGS), default="convllava")
    p.add_argument("--out", type=Path, default=None, help="work directory (default training/runs/<model>)")
    p.add_argument("--bundle-out", type=Path, default=None, help="the bundle (default public/models/loupe-synth[-mc|-piip|-vit336])")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="every stage at tiny sizes (CI)")
    p.add_argument("--skip-node", action="store_true", help="export without the onnxruntime-web check")
    p.add_argument("--until", choices=STAGES, default=None, help="stop after this stage")
    p.add_argument("--feature-scenes", type=int, default=None, help="override (iteration runs)")
    p.add_argument("--decoder-steps", type=int, default=None, help="override (iteration runs)")
    p.add_argument("--word-readout", type=float, default=None, help="trial: weight of the sign-word read-out at image tokens")
    a = p.parse_args(argv)
    # A stop (kill, session end) unwinds like an exception, so the stage's wall time so far
    # is saved and a rerun adds to it.
    signal.signal(signal.SIGTERM, stop)
    # LOUPE_TORCH_THREADS: fewer threads when another job shares the cores (oversubscribed
    # OpenMP threads spin against each other and run several times slower).
    torch.set_num_threads(int(os.environ.get("LOUPE_TORCH_THREADS", min(2, os.cpu_count() or 1))))
    torch.manual_seed(a.seed)
    recipe = replace(smoke_recipe(a.model) if a.smoke else RECIPES[a.model](), seed=a.seed)
    if a.feature_scenes:
        recipe.feature_scenes = a.feature_scenes
    if a.decoder_steps:
        recipe.decoder = replace(recipe.decoder, steps=a.decoder_steps)
    if a.word_readout is not None:
        recipe.decoder = replace(recipe.decoder, word_readout=a.word_readout)
    out = a.out or REPO / "training" / "runs" / a.model
    bundle_out = a.bundle_out or (REPO / "public" / "models" / BUNDLES[a.model][0] if a.model in BUNDLES else None)
    run = Run(out, recipe, a.smoke, bundle_out, a.skip_node)
    run.hold()
    blas = blas_check()
    t_start = time.time()
    say(f"[train] {a.model} -> {out} (seed {a.seed}{', smoke' if a.smoke else ''}); BLAS: {blas}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    tok, mcfg, model = tokenizer_and_model(run)
    say(f"[train] parameters {json.dumps(count_parameters(model))}, vocabulary {len(tok.vocab)}")

    wspec = window_spec(a.model, a.smoke, recipe.window_scenes, recipe.windows_per_scene)
    windows_dir = out / "windows"

    def windows() -> dict:
        prog = Progress("windows", (recipe.window_scenes + crops_mod.SCENES_PER_SHARD - 1) // crops_mod.SCENES_PER_SHARD,
                        run.log, unit="shards")
        crops_mod.build(windows_dir, wspec, recipe.seed, recipe.window_scenes, workers=2,
                        progress=lambda d, n: prog.update(d, crops_mod.SCENES_PER_SHARD))
        return {"scenes": recipe.window_scenes, "windows": recipe.window_scenes * wspec.per_scene}

    run.stage("windows", windows)
    if a.until == "windows":
        return

    encoder_path = out / "encoder.pt"

    def encoder() -> dict:
        store = crops_mod.CropStore(windows_dir)
        phases = recipe.encoder_phases if mcfg.encoder == "convnext" else [ph for ph in recipe.encoder_phases if not ph.window]
        cfg = EncoderStageConfig(phases=phases, seed=recipe.seed, warmup=min(100, max(1, phases[0].steps // 4)))
        result = train_encoder(model.vision, store, cfg, out / "encoder.ckpt", run.log)
        torch.save(model.vision.encoder.state_dict(), encoder_path)
        return result

    run.stage("encoder", encoder)
    model.vision.encoder.load_state_dict(torch.load(encoder_path))
    if a.until == "encoder":
        return

    features_dir = out / "features"

    def features() -> dict:
        fspec = feature_spec(a.model, a.smoke, recipe.feature_scenes)
        prog = Progress("features", (fspec.scenes + features_mod.SCENES_PER_SHARD - 1) // features_mod.SCENES_PER_SHARD,
                        run.log, unit="shards")
        features_mod.build(model.vision, features_dir, fspec, recipe.seed, workers=1,
                           progress=lambda d, n, k: prog.update(d, k))
        return {"scenes": fspec.scenes}

    run.stage("features", features)
    if a.until == "features":
        return

    ckpt_dir = out / "checkpoint"

    def decoder() -> dict:
        store = features_mod.FeatureStore(features_dir)
        result = train_decoder(model, tok, store, replace(recipe.decoder, seed=recipe.seed), out / "decoder.ckpt", run.log)
        stages = {s: run.done(s) for s in STAGES[:3]}
        meta = {"recipe": asdict(recipe), "stages": stages, "decoder": result, "vocab_size": len(tok.vocab),
                "parameters": count_parameters(model), "hardware": hardware(), "source": "synth",
                "data": {"square_resolutions": [768, 1024, 1536], "token_budget": 576, "source": "synth",
                         "fake_long_side": [1500, 4000]},
                "command": " ".join([sys.executable, "-m", "training.vlm.pipeline"] + (argv if argv is not None else sys.argv[1:]))}
        save_checkpoint(ckpt_dir, model, mcfg, meta)
        shutil.copy(out / "tokenizer.json", ckpt_dir / "tokenizer.json")
        return result

    run.stage("decoder", decoder)
    if a.until == "decoder" or a.model not in BUNDLES:
        summarise(run, t_start)
        return

    def export() -> dict:
        export_mod = importlib.import_module(f".{BUNDLES[a.model][1]}", __package__)
        argv_export = ["--ckpt", str(ckpt_dir), "--out", str(bundle_out), "--golden-dir", str(out / "golden"),
                       "--fp32-dir", str(out / "bundle-fp32"), "--quality-scenes", "2" if a.smoke else "16"]
        if a.skip_node:
            argv_export.append("--skip-node")
        export_mod.main(argv_export)
        return {"bundle": str(bundle_out)}

    run.stage("export", export)
    summarise(run, t_start)


def hardware() -> str:
    return f"{platform.machine()} CPU x{os.cpu_count()} ({platform.processor() or 'unknown'}), torch {torch.__version__}, {torch.get_num_threads()} threads"


def summarise(run: Run, t_start: float) -> None:
    stages = {s: run.done(s) for s in STAGES if run.done(s)}
    total = sum(info.get("wall_s", 0) for info in stages.values())
    summary = {"stages": stages, "train_wall_s": round(total, 1), "train_wall": clock(total), "hardware": hardware(),
               "command": " ".join([sys.executable, "-m", "training.vlm.pipeline"] + sys.argv[1:])}
    (run.out / "summary.json").write_text(json.dumps(summary, indent=1))
    say(f"[train] done: {clock(total)} of stage wall time in all; summary in {run.out / 'summary.json'}")


if __name__ == "__main__":
    main()
