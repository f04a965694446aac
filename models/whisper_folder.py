"""A catalog Whisper model as the folder CTranslate2 loads: the package's own folder, or for a model whose model.bin
is split over packages (stt/base), a folder in the models cache where the parts are joined once."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from .catalog import ModelSpec
from .locate import ModelError, file_path, locate, sha256_file, verified_path

PART = ".part"
"""Split files are named model.bin.part1, model.bin.part2, ...: joined in catalog order into model.bin."""
_joined_ok: set[tuple[str, int, int]] = set()
"""Joined files already hashed in this process (path, size, mtime): each start-up hashes a join once."""


def whisper_folder(spec: ModelSpec, cache: Path) -> Path:
    """The folder holding model.bin, config.json, tokenizer.json and vocabulary.txt for a catalog Whisper model.

    A split model's parts are only located (a missing package is named); the joined model.bin is verified against
    spec.joined_sha256, so a damaged part or join is never loaded."""
    parts = [f for f in spec.files if PART in Path(f.path).name]
    if not parts:
        return locate(spec)[0].parent
    if spec.joined_sha256 is None:
        raise ModelError(f"model {spec.key}: split parts without a joined sha256 in the catalog")
    try:
        sources = [file_path(f) for f in parts]
        whole = [(f, verified_path(f)) for f in spec.files if f not in parts]
    except ModelError as e:
        raise ModelError(f"model {spec.key}: {e} (install with: {spec.install_command})") from None
    folder = cache / f"whisper-{spec.name}-{spec.joined_sha256[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(parts[0].path).name.split(PART)[0]
    if not _joined_matches(target, spec.joined_sha256, sum(f.size for f in parts)):
        _join(sources, target, spec)
    for f, src in whole:
        dst = folder / Path(f.path).name
        # A copy, not a link: the folder stays whole when the package is upgraded or removed under it.
        if not (dst.is_file() and dst.stat().st_size == f.size and sha256_file(dst) == f.sha256):
            shutil.copyfile(src, dst)
    return folder


def _joined_matches(path: Path, sha256: str, size: int) -> bool:
    if not path.is_file() or path.stat().st_size != size:
        return False
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _joined_ok:
        return True
    if sha256_file(path) != sha256:
        return False
    _joined_ok.add(key)
    return True


def _join(sources: list[Path], target: Path, spec: ModelSpec) -> None:
    """Concatenate the parts into target (written beside it, renamed when its sha256 is right)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for src in sources:
                with open(src, "rb") as fh:
                    for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != spec.joined_sha256:
            raise ModelError(f"model {spec.key}: the joined parts do not match the catalog (expected sha256 "
                             f"{spec.joined_sha256[:12]}…, got {h.hexdigest()[:16]}): pip install --force-reinstall "
                             f"{' '.join(dict.fromkeys(f'{f.package}=={f.version}' for f in spec.files))}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
