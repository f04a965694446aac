"""ONNX Runtime sessions with a thread budget (the defaults take every core and fight the other models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def inference_session(path: Path, *, threads: int = 1, cuda: bool = False) -> Any:
    """An onnxruntime.InferenceSession using at most `threads` threads (intra-op), on CUDA when asked."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    return ort.InferenceSession(str(path), sess_options=opts, providers=providers)
