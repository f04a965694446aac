"""Copy a built language model between machines: build on a PC, run on a 2 GB Raspberry Pi.

``slm-voice models export`` writes one tar archive: ``slm-voice-archive.json`` first (the model, this recipe, and
every file's size and sha256), then the built folder. ``slm-voice models import FILE`` reads the manifest, refuses
anything it does not list (absolute paths, ``..``, links, devices, extra or missing files), writes the files into
a hidden folder beside the target while hashing them, checks every size and sha256 and that the build matches this
install's catalog and recipe (the same test a local build must pass), and only then renames the folder into
place: a damaged or foreign archive never leaves a model that looks usable. Stdlib only (runtime venv).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from .build_slm import (
    MANIFEST,
    RECIPE,
    BuildError,
    is_built,
    model_dir,
    read_manifest,
    replace_folder,
    slm_models,
)

ARCHIVE_MANIFEST = "slm-voice-archive.json"
"""The archive's first member: what it holds, with sizes and sha256."""

FORMAT = 1
"""Version of the archive layout."""

MAX_MANIFEST_BYTES = 1 << 20
"""An archive manifest larger than this is refused unread."""

_CHUNK = 1 << 22


class ArchiveError(BuildError):
    """The archive cannot be written or is not a valid, intact model archive; the message says why."""


def default_archive_name(model: str) -> str:
    """slm-voice-<model>-r<recipe>.tar"""
    return f"slm-voice-{model}-r{RECIPE}.tar"


def export_model(model: str, models_dir: str | os.PathLike[str] | None, dest: str | os.PathLike[str]) -> Path:
    """Write the built model to the archive `dest` (a folder: the default name inside it); returns its path."""
    folder = model_dir(model, models_dir)
    if not is_built(model, models_dir):
        raise ArchiveError(f"{model} is not built in {folder.parent}: build it first (`slm-voice models build "
                           f"--model {model}`)")
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / default_archive_name(model)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink())
    manifest = {
        "format": FORMAT,
        "model": model,
        "recipe": RECIPE,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build": read_manifest(folder),
        "files": {p.name: {"size": p.stat().st_size, "sha256": _sha256_file(p)} for p in files},
    }
    body = json.dumps(manifest, indent=2).encode()
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, ARCHIVE_MANIFEST, body)
            for p in files:
                info = tarfile.TarInfo(f"{model}/{p.name}")
                info.size, info.mode, info.mtime = p.stat().st_size, 0o644, int(p.stat().st_mtime)
                with open(p, "rb") as fh:
                    tar.addfile(info, fh)
        # The files may have changed while they were read: hash what went into the archive, not what is on disk.
        _verify_archive(partial, manifest)
        partial.replace(dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return dest


def import_model(archive: str | os.PathLike[str], models_dir: str | os.PathLike[str] | None, *,
                 force: bool = False) -> Path:
    """Install the model in `archive` into models_dir after checking every file; returns the model's folder."""
    archive = Path(archive)
    try:
        tar = tarfile.open(archive, "r:")  # noqa: SIM115 - closed by the `with tar` below
    except (OSError, tarfile.TarError) as e:
        raise ArchiveError(f"{archive}: not a readable tar archive ({e})") from None
    with tar:
        manifest, first = _read_manifest(tar, archive)
        model = manifest["model"]
        target = model_dir(model, models_dir)
        if is_built(model, models_dir) and not force:
            if read_manifest(target) == manifest["build"]:
                return target  # this very build is already installed
            raise ArchiveError(f"{target} holds another build of {model}: pass --force to replace it")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Unpacked into <models_dir>/.<model>.import-PID/<model>/: checked there with the same is_built() a local
        # build must pass, then renamed into place (one file system: atomic).
        staging = target.parent / f".{model}.import-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / model).mkdir(parents=True)
        try:
            try:
                seen = _extract_checked(tar, first, archive, manifest, staging / model)
            except (tarfile.TarError, EOFError) as e:
                raise ArchiveError(f"{archive}: damaged or truncated ({e})") from None
            missing = sorted(set(manifest["files"]) - seen)
            if missing:
                raise ArchiveError(f"{archive}: truncated, {', '.join(missing)} missing")
            if not is_built(model, staging):
                raise ArchiveError(f"{archive}: {_mismatch(model, manifest['build'])}: export it from a matching "
                                   "slm-voice checkout, or build it here")
            replace_folder(staging / model, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _mismatch(model: str, build: dict[str, Any]) -> str:
    """Why this install would not use the archive's build (what is_built() compares), in words."""
    from . import build_slm, catalog

    want: dict[str, Any] = {"recipe": RECIPE, "gguf_sha256": build_slm.gguf_sha256(catalog.get("slm", model))}
    want["adapter_sha256"] = build_slm.adapter_sha256(model)  # the fine-tune merged into the build, if any
    diffs = [f"{k} {_short(build.get(k))} where this install wants {_short(v)}" for k, v in want.items()
             if build.get(k) != v]
    return f"its build of {model} does not match this install ({'; '.join(diffs) or 'incomplete build'})"


def _short(value: Any) -> str:
    return f"{value[:12]}…" if isinstance(value, str) and len(value) > 16 else repr(value)


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> tuple[dict[str, Any], tarfile.TarInfo]:
    first = tar.next()
    if first is None or first.name != ARCHIVE_MANIFEST or not first.isfile():
        raise ArchiveError(f"{archive}: not a slm-voice model archive (its first member is not {ARCHIVE_MANIFEST})")
    if first.size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{archive}: {ARCHIVE_MANIFEST} is {first.size} bytes, more than a manifest can be")
    fh = tar.extractfile(first)
    assert fh is not None
    try:
        manifest = json.loads(fh.read())
    except ValueError as e:
        raise ArchiveError(f"{archive}: {ARCHIVE_MANIFEST} is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{archive}: archive format {manifest.get('format') if isinstance(manifest, dict) else '?'}"
                           f", this slm-voice reads format {FORMAT}")
    model, files, build = manifest.get("model"), manifest.get("files"), manifest.get("build")
    if model not in slm_models():
        raise ArchiveError(f"{archive}: model {model!r} is not one this slm-voice knows ({', '.join(slm_models())})")
    if not isinstance(build, dict) or not isinstance(files, dict) or MANIFEST not in files:
        raise ArchiveError(f"{archive}: {ARCHIVE_MANIFEST} lacks the build manifest or the file list")
    for name, meta in files.items():
        if not _plain_name(name) or not isinstance(meta, dict) or not isinstance(meta.get("size"), int) or (
            not isinstance(meta.get("sha256"), str) or len(meta["sha256"]) != 64
        ):
            raise ArchiveError(f"{archive}: bad entry for {name!r} in {ARCHIVE_MANIFEST}")
    return manifest, first


def _extract_checked(
    tar: tarfile.TarFile, first: tarfile.TarInfo, archive: Path, manifest: dict[str, Any], dest: Path
) -> set[str]:
    """Write each listed file into dest, hashing as it streams; refuse anything unlisted, odd or altered."""
    model, files = manifest["model"], manifest["files"]
    seen: set[str] = set()
    for member in tar:
        if member is first:  # the manifest, already read
            continue
        folder, _, name = member.name.partition("/")
        if folder != model or not _plain_name(name) or name not in files:
            raise ArchiveError(f"{archive}: unexpected member {member.name!r}")
        if not member.isfile():
            raise ArchiveError(f"{archive}: {member.name} is not a regular file")
        if name in seen:
            raise ArchiveError(f"{archive}: {member.name} appears twice")
        want = files[name]
        if member.size != want["size"]:
            raise ArchiveError(f"{archive}: {member.name} is {member.size} bytes, the manifest says {want['size']}")
        src = tar.extractfile(member)
        assert src is not None
        h = hashlib.sha256()
        with open(dest / name, "wb") as out:
            for block in _blocks(src):
                h.update(block)
                out.write(block)
        if h.hexdigest() != want["sha256"]:
            raise ArchiveError(f"{archive}: {member.name} is damaged (sha256 {h.hexdigest()[:16]}…, "
                               f"the manifest says {want['sha256'][:16]}…)")
        seen.add(name)
    return seen


def _verify_archive(path: Path, manifest: dict[str, Any]) -> None:
    with tarfile.open(path, "r:") as tar:
        got = {}
        for member in tar:
            if member.name == ARCHIVE_MANIFEST:
                continue
            fh = tar.extractfile(member)
            assert fh is not None
            got[member.name.partition("/")[2]] = _sha256_stream(fh)
    want = {name: meta["sha256"] for name, meta in manifest["files"].items()}
    if got != want:
        changed = sorted(n for n in want if got.get(n) != want[n])
        raise ArchiveError(f"{', '.join(changed)} changed while the archive was written: export again")


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name and (
        not name.startswith(".")
    )


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return _sha256_stream(fh)


def _sha256_stream(fh: IO[bytes]) -> str:
    h = hashlib.sha256()
    for block in _blocks(fh):
        h.update(block)
    return h.hexdigest()


def _blocks(fh: IO[bytes]) -> Iterator[bytes]:
    return iter(lambda: fh.read(_CHUNK), b"")
