"""Find catalog files in installed distributions (without importing them) and verify their sha256."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from .catalog import ModelFile, ModelSpec


class ModelError(RuntimeError):
    """A model is missing or damaged; the message says which package to (re)install."""


def cache_dir(*parts: str) -> Path:
    """slm-voice's user cache: $XDG_CACHE_HOME/slm-voice, else ~/.cache/slm-voice (plus parts)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base, "slm-voice", *parts)


def models_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """Where built models live: the configured folder (models.dir), else $SLM_VOICE_MODELS_DIR, else the cache."""
    if configured:
        return Path(configured).expanduser()
    if env := os.environ.get("SLM_VOICE_MODELS_DIR"):
        return Path(env).expanduser()
    return cache_dir("models")


_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def file_path(f: ModelFile) -> Path:
    """Where an installed distribution keeps one file (no hash check)."""
    try:
        files = importlib.metadata.files(f.package) or []
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"package {f.package!r} is not installed: pip install {f.package}=={f.version}") from None
    for rec in files:
        if str(rec) == f.path:
            path = Path(rec.locate())
            if not path.is_file():
                raise ModelError(f"{path}: listed by {f.package} but missing: "
                                 f"pip install --force-reinstall {f.package}=={f.version}")
            return path
    raise ModelError(f"{f.path} is not in the installed {f.package}: pip install {f.package}=={f.version}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verified_path(f: ModelFile) -> Path:
    """The file's path after checking size and sha256 (each file is hashed once per process)."""
    path = file_path(f)
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        digest = _verified.get(key)
    if digest is None:
        digest = f"size {st.st_size}" if st.st_size != f.size else sha256_file(path)
        with _lock:
            _verified[key] = digest
    if digest != f.sha256:
        raise ModelError(
            f"{path} does not match the catalog (expected sha256 {f.sha256[:12]}…, got {digest[:16]}): "
            f"pip install --force-reinstall {f.package}=={f.version}"
        )
    return path


def locate(spec: ModelSpec) -> list[Path]:
    """Verified paths of every file of a model, in catalog order."""
    try:
        return [verified_path(f) for f in spec.files]
    except ModelError as e:
        raise ModelError(f"model {spec.key}: {e} (install with: {spec.install_command})") from None


def status(spec: ModelSpec) -> str:
    """installed+verified, missing, or damaged — for `slm-voice models`."""
    try:
        locate(spec)
    except ModelError as e:
        return "damaged" if "does not match" in str(e) else "missing"
    return "verified"


def iter_joined(spec: ModelSpec, block: int = 1 << 20) -> Iterator[bytes]:
    """A split model's parts (verified) as one stream of blocks, e.g. to write the joined GGUF."""
    for path in locate(spec):
        with open(path, "rb") as fh:
            yield from iter(lambda fh=fh: fh.read(block), b"")
