"""Files written whole or not at all: a reader (or a restart after a crash) sees the old version or the new one,
never half of either. The one helper for every room (pipeline imports no other room, so it lives here)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None,
                 perm: int = 0o644, fsync: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file beside path; when the block ends without an error, rename it over path (else remove
    it). fsync: make the data durable before the rename (state that must survive a power cut)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, perm)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
