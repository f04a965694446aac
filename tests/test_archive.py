"""Model archives (slm-voice models export / import) and the build's free-memory check.

Fast: a small stand-in for a built model (the manifest a real build writes, small files); the archive code reads
and hashes files, it never loads a model. The real round trip with a built model runs in `make test-arm64`.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from slm_voice.daemon import cli
from slm_voice.models import archive, build_slm, catalog
from slm_voice.models.archive import ArchiveError, export_model, import_model
from slm_voice.models.build_slm import MANIFEST, RECIPE, BuildError, gguf_sha256, is_built

MODEL = "smollm2-135m"


def fake_build(models_dir: Path, *, recipe: int = RECIPE, payload: bytes = b"\x01" * 5000) -> Path:
    """A folder that is_built() accepts: the manifest of a real build and stand-ins for the ONNX files."""
    folder = models_dir / MODEL
    folder.mkdir(parents=True)
    (folder / "genai_config.json").write_text('{"model": {}}')
    (folder / "model.onnx").write_bytes(b"onnx graph")
    (folder / "model.onnx.data").write_bytes(payload)
    spec = catalog.get("slm", MODEL)
    manifest = {"model": MODEL, "recipe": recipe, "gguf_sha256": gguf_sha256(spec), "built_at": "2026-11-30"}
    if hasattr(build_slm, "adapter_sha256"):  # a build records the fine-tune merged into it
        manifest["adapter_sha256"] = build_slm.adapter_sha256(MODEL)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_export_then_import_installs_the_same_files(tmp_path):
    src = fake_build(tmp_path / "pc")
    out = export_model(MODEL, tmp_path / "pc", tmp_path)
    assert out.name == f"slm-voice-{MODEL}-r{RECIPE}.tar"
    with tarfile.open(out) as tar:
        assert tar.getnames()[0] == archive.ARCHIVE_MANIFEST

    folder = import_model(out, tmp_path / "pi")
    assert folder == tmp_path / "pi" / MODEL
    assert is_built(MODEL, tmp_path / "pi")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {p.name: p.read_bytes() for p in src.iterdir()}
    assert [p.name for p in (tmp_path / "pi").iterdir()] == [MODEL]  # no staging folder left behind
    # Importing the same build again changes nothing.
    assert import_model(out, tmp_path / "pi") == folder


def test_a_damaged_file_is_refused_and_nothing_is_installed(tmp_path):
    fake_build(tmp_path / "pc", payload=b"\x07" * 4096)
    out = export_model(MODEL, tmp_path / "pc", tmp_path / "a.tar")
    data = bytearray(out.read_bytes())
    at = data.index(b"\x07" * 4096)
    data[at + 100] ^= 0xFF  # one flipped byte inside model.onnx.data
    out.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="model.onnx.data is damaged"):
        import_model(out, tmp_path / "pi")
    assert list((tmp_path / "pi").iterdir()) == []


@pytest.mark.parametrize("keep", [3000, -3000])
def test_a_truncated_archive_is_refused(tmp_path, keep):
    fake_build(tmp_path / "pc", payload=b"\x02" * 20000)
    out = export_model(MODEL, tmp_path / "pc", tmp_path / "a.tar")
    data = out.read_bytes()
    out.write_bytes(data[:keep] if keep > 0 else data[:data.index(b"\x02" * 20000) + 20000 + keep])
    with pytest.raises(ArchiveError):
        import_model(out, tmp_path / "pi")
    assert not (tmp_path / "pi" / MODEL).exists()


def rewrite(out: Path, *, extra: tuple[str, bytes] | None = None, edit=None) -> None:
    """Rewrite an archive with an extra member or an edited manifest (what a hand-made archive could hold)."""
    with tarfile.open(out) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(out, "w") as tar:
        for m, body in members:
            if m.name == archive.ARCHIVE_MANIFEST and edit is not None:
                manifest = json.loads(body)
                edit(manifest)
                body = json.dumps(manifest).encode()
                m.size = len(body)
            tar.addfile(m, io.BytesIO(body))
        if extra is not None:
            info = tarfile.TarInfo(extra[0])
            info.size = len(extra[1])
            tar.addfile(info, io.BytesIO(extra[1]))


@pytest.mark.parametrize("name", ["../evil.sh", f"{MODEL}/../../evil.sh", f"{MODEL}/unlisted.bin", "/etc/x"])
def test_members_outside_the_manifest_are_refused(tmp_path, name):
    fake_build(tmp_path / "pc")
    out = export_model(MODEL, tmp_path / "pc", tmp_path / "a.tar")
    rewrite(out, extra=(name, b"#!/bin/sh\n"))
    with pytest.raises(ArchiveError, match="unexpected member"):
        import_model(out, tmp_path / "pi")
    assert not (tmp_path / "evil.sh").exists() and not (tmp_path / "pi" / MODEL).exists()


def hand_made(path: Path, files: dict[str, bytes], build: dict) -> Path:
    """An archive laid out as export_model writes it, from given files (e.g. another version's build)."""
    listed = {n: {"size": len(b), "sha256": archive._sha256_stream(io.BytesIO(b))} for n, b in files.items()}
    manifest = {"format": archive.FORMAT, "model": MODEL, "recipe": build["recipe"], "build": build, "files": listed}
    with tarfile.open(path, "w") as tar:
        for name, body in [(archive.ARCHIVE_MANIFEST, json.dumps(manifest).encode()),
                           *((f"{MODEL}/{n}", b) for n, b in files.items())]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path


def test_a_build_of_another_recipe_is_refused(tmp_path):
    folder = fake_build(tmp_path / "other", recipe=RECIPE + 1)
    build = json.loads((folder / MANIFEST).read_text())
    out = hand_made(tmp_path / "a.tar", {p.name: p.read_bytes() for p in folder.iterdir()}, build)
    with pytest.raises(ArchiveError, match=f"recipe {RECIPE + 1} where this install wants {RECIPE}"):
        import_model(out, tmp_path / "pi")
    assert not (tmp_path / "pi" / MODEL).exists()


def test_a_listed_file_missing_from_the_archive_is_refused(tmp_path):
    folder = fake_build(tmp_path / "pc")
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = hand_made(tmp_path / "a.tar", files, json.loads(files[MANIFEST]))
    with tarfile.open(out) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers() if not m.name.endswith(".data")]
    with tarfile.open(out, "w") as tar:
        for m, body in members:
            tar.addfile(m, io.BytesIO(body))
    with pytest.raises(ArchiveError, match="model.onnx.data missing"):
        import_model(out, tmp_path / "pi")


def test_an_unknown_model_and_a_foreign_tar_are_refused(tmp_path):
    fake_build(tmp_path / "pc")
    out = export_model(MODEL, tmp_path / "pc", tmp_path / "a.tar")
    rewrite(out, edit=lambda m: m.update(model="gpt-99"))
    with pytest.raises(ArchiveError, match="'gpt-99' is not one this slm-voice knows"):
        import_model(out, tmp_path / "pi")
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        tar.add(__file__, arcname="test.py")
    with pytest.raises(ArchiveError, match="not a slm-voice model archive"):
        import_model(plain, tmp_path / "pi")
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        import_model(tmp_path / "junk.tar", tmp_path / "pi")


def test_another_build_is_replaced_only_with_force(tmp_path):
    fake_build(tmp_path / "pc", payload=b"new" * 100)
    out = export_model(MODEL, tmp_path / "pc", tmp_path / "a.tar")
    old = fake_build(tmp_path / "pi", payload=b"old" * 100)
    (old / MANIFEST).write_text((old / MANIFEST).read_text().replace("2026-11-30", "2026-01-01"))
    with pytest.raises(ArchiveError, match="--force"):
        import_model(out, tmp_path / "pi")
    assert (old / "model.onnx.data").read_bytes() == b"old" * 100
    import_model(out, tmp_path / "pi", force=True)
    assert (old / "model.onnx.data").read_bytes() == b"new" * 100


def test_exporting_an_unbuilt_model_says_how_to_build_it(tmp_path):
    with pytest.raises(ArchiveError, match="models build --model smollm2-135m"):
        export_model(MODEL, tmp_path, tmp_path / "a.tar")


def test_the_cli_exports_and_imports(tmp_path, capsys):
    fake_build(tmp_path / "pc")
    dest = tmp_path / "m.tar"
    assert cli.main(["models", "export", str(dest), "--model", MODEL, "--models-dir", str(tmp_path / "pc")]) == 0
    assert cli.main(["models", "import", str(dest), "--models-dir", str(tmp_path / "pi")]) == 0
    assert is_built(MODEL, tmp_path / "pi")
    assert cli.main(["models", "import", "--models-dir", str(tmp_path / "pi")]) == 2
    assert "name the archive" in capsys.readouterr().err


def test_a_build_without_enough_memory_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.delenv(build_slm.SKIP_MEMORY_CHECK_ENV, raising=False)
    monkeypatch.setattr(build_slm, "available_memory", lambda: (700 << 20, "700 MiB available + 0 MiB free swap"))
    with pytest.raises(BuildError) as e:
        build_slm.check_build_memory("qwen2.5-coder-0.5b")
    assert "needs about 1800 MiB" in str(e.value) and "700 MiB available" in str(e.value)
    assert "slm-voice models export --model qwen2.5-coder-0.5b" in str(e.value)
    assert f"slm-voice models import slm-voice-qwen2.5-coder-0.5b-r{RECIPE}.tar" in str(e.value)
    monkeypatch.setenv(build_slm.SKIP_MEMORY_CHECK_ENV, "1")
    build_slm.check_build_memory("qwen2.5-coder-0.5b")  # skipped on request


def test_available_memory_reads_this_machine():
    have, how = build_slm.available_memory()
    assert have > 0 and "MiB" in how
