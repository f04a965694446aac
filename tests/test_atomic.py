"""pipeline/atomic.py: a file is replaced whole or left as it was, with no temporary file behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_voice.pipeline.atomic import atomic_write


def test_a_write_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    with atomic_write(path, "w", encoding="utf-8", perm=0o640, fsync=True) as f:
        f.write("new")
        assert path.read_text() == "old"  # nobody sees the new version before it is complete
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write(b"half")
        raise RuntimeError("disk full")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]
