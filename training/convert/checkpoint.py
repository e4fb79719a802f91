"""Reading a released checkpoint's weights one tensor at a time, in the formats the seeds
publish: `pytorch_model-0000k-of-0000n.bin` shards (torch.save zip archives, bf16) with
`pytorch_model.bin.index.json`, or `model-0000k-of-0000n.safetensors` shards with
`model.safetensors.index.json` (read with numpy from the header's offsets, no library).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64}


def _safetensors(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    with path.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[begin:end], dtype=SAFETENSORS_DTYPES[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16":  # the top 16 bits of float32: exact back in bfloat16
            yield name, torch.from_numpy((raw.astype(np.uint32) << 16).view(np.float32).copy()).to(torch.bfloat16)
        else:
            yield name, torch.from_numpy(raw.copy())


def shard_files(root: Path) -> list[Path]:
    """The weight files of a checkpoint directory, in index order (or the single file)."""
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = root / index_name
        if index.exists():
            files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return [root / f for f in files]
    for single in ("model.safetensors", "pytorch_model.bin"):
        if (root / single).exists():
            return [root / single]
    raise SystemExit(f"{root}: no model.safetensors(.index.json) or pytorch_model.bin(.index.json)")


def tensors(root: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, float tensor) of every weight, shard by shard: one shard in memory at a time."""
    for path in shard_files(root):
        if path.suffix == ".safetensors":
            yield from _safetensors(path)
        else:
            state = torch.load(path, map_location="cpu")
            for name in list(state):
                yield name, state.pop(name)
            del state
