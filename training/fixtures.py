"""Small hand-made ONNX graphs for runtime error-path tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def write_bad_io_fixture(path: Path) -> None:
    """A valid vision graph with the wrong tensor names (`images` -> `features`) and an
    un-flattened NCHW output, so the runtime's layout check has something to reject."""
    weight = np.linspace(-1.0, 1.0, 8 * 3 * 4 * 4, dtype=np.float32).reshape(8, 3, 4, 4)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["images", "patch_weight"], ["features"], kernel_shape=[4, 4], strides=[4, 4])],
        "bad_io_vision_encoder",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch_size", 3, "height", "width"])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch_size", 8, "grid_height", "grid_width"])],
        [numpy_helper.from_array(weight, "patch_weight")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="loupe-training")
    model.ir_version = 8  # what opset 17 needs; keeps older runtimes able to load it
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
