"""The wheel, as `pip install` and systemd/install.sh put it on a Pi: one `slm_voice` namespace and nothing generic in
site-packages, the bench's data inside, and the evaluation commands working from the installed files (not from
the checkout: the editable install's import hook is bypassed with `python -S`)."""

from __future__ import annotations

import ast
import gc
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

ROOMS = ("daemon", "pipeline", "models", "bench")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(ROOT)], check=True, timeout=300)
    (path,) = out.glob("slm_voice-*.whl")
    return path


@pytest.mark.tools
def test_everything_installs_under_one_namespace_with_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"slm_voice"}
    for needed in ("slm_voice/daemon/cli.py", "slm_voice/pipeline/assistant.py", "slm_voice/models/catalog.py",
                   "slm_voice/bench/bench.py", "slm_voice/bench/data/commands.yaml",
                   "slm_voice/models/requirements-build.txt"):
        assert needed in names


@pytest.mark.tools
def test_the_evaluation_commands_run_from_the_installed_package(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    # -S: no .pth files, so the editable checkout is invisible; the dependencies come from this venv's site-packages.
    env = {"PYTHONPATH": f"{target}:{sysconfig.get_paths()['purelib']}", "PATH": "/usr/bin:/bin"}
    probe = ("import slm_voice.bench.corpus as c, slm_voice.daemon.cli as cli; "
             "print(c.__file__); print(len(c.load_commands())); cli.main(['bench', '--help'])")
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(str(target)) and int(lines[1]) > 10
    assert "--no-black-box" in out.stdout
    out = subprocess.run([sys.executable, "-S", "-m", "slm_voice.daemon.cli", "eval", "--help"], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr


def _package_of(path: Path) -> list[str]:
    """The installed package of a room's file: daemon/homeassistant/link.py -> slm_voice.daemon.homeassistant."""
    return ["slm_voice", *path.relative_to(ROOT).parts[:-1]]


def _imports(path: Path) -> set[tuple[str, int]]:
    """(module, level) of every import in a file, relative ones resolved to their absolute name."""
    # CPython 3.11.7 raises "AST constructor recursion depth mismatch" when a garbage-collected object's finaliser
    # runs Python code in the middle of ast.parse (objects other tests left behind): no collection while parsing.
    gc.disable()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    finally:
        gc.enable()
    found: set[tuple[str, int]] = set()
    package = _package_of(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                found.add((".".join([*base, *([node.module] if node.module else [])]), node.level))
            elif node.module:
                found.add((node.module, 0))
        elif isinstance(node, ast.Import):
            found.update((a.name, 0) for a in node.names)
    return found


def test_imports_flow_bench_to_daemon_to_pipeline_and_never_back() -> None:
    """The rooms' directions: the pipeline imports no other room; models may use the pipeline's intent schema (the
    fine-tune trains on it), never the daemon; nothing imports the bench. Inside the package every import of the
    project is relative, so a reader (or a tool) following it lands on a file of the folder it names."""
    allowed = {"pipeline": {"pipeline"}, "models": {"models", "pipeline"}, "daemon": {"daemon", "pipeline", "models"},
               "bench": set(ROOMS)}
    wrong = []
    for room in ROOMS:
        for path in (ROOT / room).rglob("*.py"):
            for module, level in _imports(path):
                parts = module.split(".")
                if parts[0] == "slm_voice" and len(parts) > 1 and parts[1] not in allowed[room]:
                    wrong.append(f"{path.relative_to(ROOT)} imports {module}")
                if parts[0] == "slm_voice" and not level:
                    wrong.append(f"{path.relative_to(ROOT)} imports {module} by its installed name, not relatively")
                if parts[0] in ROOMS:
                    wrong.append(f"{path.relative_to(ROOT)} imports {module} outside the slm_voice namespace")
    assert wrong == []


def test_relative_imports_lead_to_files() -> None:
    """Every relative import names a module or package that exists as a file or folder of the checkout."""
    missing = []
    for room in ROOMS:
        for path in (ROOT / room).rglob("*.py"):
            for module, level in _imports(path):
                if not level:
                    continue
                rel = Path(*module.split(".")[1:])
                if not ((ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()):
                    missing.append(f"{path.relative_to(ROOT)}: {module}")
    assert missing == []


def test_no_import_cycles_between_modules() -> None:
    """No two modules of the package import each other, directly or round a longer loop (functions included)."""
    graph: dict[str, set[str]] = {}
    modules: dict[str, Path] = {}
    for room in ROOMS:
        for path in (ROOT / room).rglob("*.py"):
            name = ".".join(_package_of(path) + ([] if path.name == "__init__.py" else [path.stem]))
            modules[name] = path
    for name, path in modules.items():
        graph[name] = {m for m, _ in _imports(path) if m in modules and m != name}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt):], nxt]) if nxt in trail else nxt)
            elif not state.get(nxt):
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])
    assert cycles == []
