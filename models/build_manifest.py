"""A finished build of the language model: its manifest (what was built, from what, by which recipe) and putting
the finished folder into place. Runs on both sides (the runtime venv reads manifests, the build venv writes them)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .catalog import ModelSpec
from .merge import adapter_dir, adapter_sha256

MANIFEST = "slm-voice-build.json"
"""Written last into a finished build; its presence (and matching content) means the folder is complete."""

RECIPE = 1
"""Version of this build recipe; bump it when the output changes, so old builds are rebuilt."""

def gguf_sha256(spec: ModelSpec) -> str:
    """sha256 of the whole GGUF (joined, for a split model)."""
    return spec.joined_sha256 or spec.files[0].sha256


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The build manifest of a folder, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_manifest(folder: Path, spec: ModelSpec, fixes: list[str], seconds: float) -> None:
    from importlib.metadata import version

    manifest = {
        "model": spec.name,
        "recipe": RECIPE,
        "source": spec.description,
        "provenance": spec.provenance,
        "licence": spec.licence,
        "packages": sorted({f"{f.package}=={f.version}" for f in spec.files}),
        "gguf_sha256": gguf_sha256(spec),
        "precision": "int4",
        "execution_provider": "cpu",
        "tools": {p: version(p) for p in ("onnxruntime-genai", "onnxruntime", "transformers", "torch", "gguf")},
        "tokenizer_fixes": fixes,
        "adapter_sha256": adapter_sha256(spec.name),
        "adapter": _adapter_summary(spec.name),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 1),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _adapter_summary(model: str) -> dict[str, Any] | None:
    """What tune.json says about the merged adapter (how it was trained), for the manifest."""
    folder = adapter_dir(model)
    if folder is None:
        return None
    where = f"models/tune/adapters/{model}"
    try:
        info = json.loads((folder / "tune.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"path": where}
    keep = ("examples", "steps", "epochs", "rank", "data_sha256", "command", "trained_at")
    return {"path": where, **{k: info[k] for k in keep if k in info}}


def replace_folder(partial: Path, final: Path) -> None:
    """Move the finished build into place; an old (stale) build is moved aside first, then deleted."""
    old = None
    if final.exists() or final.is_symlink():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    partial.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

