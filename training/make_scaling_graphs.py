"""Two vision encoders of about the same size, for the linear-vs-quadratic benchmark.

    /usr/bin/python3 -m training.make_scaling_graphs --out bench/models/scaling

- convnext.onnx: the Loupe-Synth ConvLLaVA tower (5 stages, stride 64), any H x W.
- vit.onnx: the ViT-336 control (patch 14, 256 wide, 6 blocks), made resolution-free
  the usual way (LLaVA's interpolate_pos_encoding): its 24 x 24 learned position table is
  resized bilinearly to the input's patch grid.

Both are fp32 with seeded random weights: `npm run bench -- --scaling` only times them, and
the cost of a forward pass does not depend on the values. scaling.json records the
parameter counts and the input size rule of each graph.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.nn import functional as F

from .loupe_models.convnext import ConvNeXtEncoder
from .vlm.config import model_config
from .vlm.vit import VitEncoder


class ResizableVit(VitEncoder):
    """The control ViT, with its position table resized to any patch grid."""

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixel_values)
        grid = self.cfg.grid
        table = self.pos_embed.reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
        table = F.interpolate(table, size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=False)
        x = (x + table).flatten(2).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def export(module: torch.nn.Module, size: int, path: Path) -> None:
    module.eval()
    example = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        torch.onnx.export(
            module, (example,), str(path), input_names=["pixel_values"], output_names=["features"],
            dynamic_axes={"pixel_values": {2: "height", 3: "width"}, "features": {1: "tokens"}}, opset_version=17,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench/models/scaling"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)

    convnext = ConvNeXtEncoder(model_config("convllava", vocab_size=512).convnext)
    vit_cfg = model_config("vit336", vocab_size=512).vit
    vit_cfg.pos_embed = "learned"
    vit = ResizableVit(vit_cfg)
    export(convnext, 256, args.out / "convnext.onnx")
    export(vit, 336, args.out / "vit.onnx")
    meta = {
        "convnext": {"file": "convnext.onnx", "parameters": parameters(convnext)},
        "vit": {"file": "vit.onnx", "parameters": parameters(vit)},
    }
    (args.out / "scaling.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
