"""PIIP-LLaVA's vision tower is described by a Python file (`mm_vision_tower` is its path,
e.g. `llava/configs/piip-llava_convnext-b_clip-l_1024-336_7B.py` in OpenGVLab/PIIP), which
assigns `model = dict(backbone=dict(...), projector=dict(...))`. It is read here without
running it: only literals, lists, tuples and `dict(...)` calls are accepted.
"""

from __future__ import annotations

import ast
from pathlib import Path


def _value(node: ast.AST, where: str):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand, where)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e, where) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_value(k, where): _value(v, where) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {k.arg: _value(k.value, where) for k in node.keywords}
    raise SystemExit(f"{where}: line {getattr(node, 'lineno', '?')}: only literals and dict(...) are read from a PIIP config, not {ast.dump(node)[:60]}")


def read_tower_config(path: Path) -> dict:
    """The file's `model` dict (backbone and projector)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "model" for t in stmt.targets):
            model = _value(stmt.value, str(path))
            if "backbone" not in model:
                raise SystemExit(f"{path}: `model` has no `backbone`")
            return model
    raise SystemExit(f"{path}: no `model = dict(...)` assignment")


def find_tower_config(source: Path, mm_vision_tower: str, given: Path | None) -> Path:
    """`--vision-tower FILE.py`, else the file named by `mm_vision_tower` inside the checkpoint
    directory (as its relative path, or by its name)."""
    candidates = [given] if given else [source / mm_vision_tower, source / Path(mm_vision_tower).name]
    for path in candidates:
        if path and path.is_file():
            return path
    raise SystemExit(f"PIIP-LLaVA's vision tower is described by {mm_vision_tower!r} (a Python file in OpenGVLab/PIIP's llava/configs/); "
                     f"put it in {source} or pass --vision-tower PATH.py")
