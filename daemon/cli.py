"""The `slm-voice` command: run, process, understand, say, transcribe, models, bench."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from . import __version__
from .settings import ConfigError, Settings, load_settings, parse_settings

log = logging.getLogger("slm_voice")

CONFIG_SEARCH = ("config.yaml", "/etc/slm-voice/config.yaml")


def find_config(explicit: str | None) -> Path | None:
    """--config, else $SLM_VOICE_CONFIG, else ./config.yaml, else /etc/slm-voice/config.yaml, else None (defaults)."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("SLM_VOICE_CONFIG"):
        return Path(env)
    return next((Path(p) for p in CONFIG_SEARCH if Path(p).is_file()), None)


def read_settings(config: str | None) -> tuple[Settings, Path | None]:
    """The settings `run` uses (see find_config) and the file they came from (None: the built-in defaults)."""
    path = find_config(config)
    return (load_settings(path) if path else parse_settings({}, source="built-in defaults")), path


def settings_for(args: argparse.Namespace) -> tuple[Settings, Path | None]:
    settings, path = read_settings(args.config)
    logging.getLogger().setLevel(settings.debug.log_level)
    log.debug("configuration: %s", path or "built-in defaults")
    return settings, path


def cmd_run(args: argparse.Namespace) -> int:
    from .service import Service

    settings, path = settings_for(args)
    log.info("slm-voice %s starting (config: %s)", __version__, path or "built-in defaults")
    service = Service(settings, path)
    rc = asyncio.run(service.run())
    # The service has stopped cleanly: STOPPING sent, MQTT closed, undelivered actions on disk. Tearing down the
    # loaded models takes seconds (and a model load interrupted by the stop holds the interpreter until it
    # returns): a stop signal must be honoured at once, so leave without that teardown.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def cmd_process(args: argparse.Namespace) -> int:
    from ..pipeline.audio import AudioFormatError
    from ..pipeline.sources import WavFileSource
    from .process import FileRunner, process_files

    settings, _ = settings_for(args)
    for f in args.files:  # refuse bad files before loading any model
        try:
            WavFileSource(f)
        except AudioFormatError as e:
            raise CliError(str(e)) from None
    runner = FileRunner(settings, wake_word_required=not args.no_wake, realtime=args.realtime)

    async def go() -> None:
        async for rec in process_files(runner, args.files, Path(args.reply_dir) if args.reply_dir else None):
            if args.json:
                print(json.dumps(rec, ensure_ascii=False), flush=True)
            else:
                print(f"{rec['file']}: {rec['text']!r} -> {rec['intent'] or '-'} [{rec['tier']}] {rec['reply']!r}",
                      flush=True)

    try:
        asyncio.run(go())
    finally:
        runner.close()
    return 0


def cmd_understand(args: argparse.Namespace) -> int:
    from ..pipeline.events import IntentRecognized
    from . import factory
    from .observers import turn_record

    settings, _ = settings_for(args)
    tiers = factory.build_intents(settings, factory.home_from_settings(settings.home), with_slm=not args.no_slm)
    tiers.load()
    for text in args.text:
        u = tiers.understand(text)
        if u.open_question:  # the language model's free answer, as the assistant would speak it
            u = replace(u, reply=" ".join(tiers.stream_reply(text)))
        if args.json:
            rec = turn_record(IntentRecognized("", text=text, understanding=u))
            del rec["turn_id"], rec["timestamp"], rec["wake_word"], rec["timings_ms"]
            print(json.dumps(rec, ensure_ascii=False), flush=True)
        else:
            print(f"{text!r} -> {u.intent.name if u.intent else '-'} [{u.tier}] {u.reply!r}", flush=True)
    return 0


def cmd_say(args: argparse.Namespace) -> int:
    from ..pipeline.sinks import open_sink
    from . import factory

    settings, _ = settings_for(args)
    tts = factory.build_tts(settings)
    tts.load()
    spec = f"file:{args.out}" if args.out else settings.audio.sink
    sink = open_sink(spec, output_device=settings.audio.output_device)
    try:
        for chunk in tts.synthesize(" ".join(args.text)):
            sink.write(chunk)
        sink.drain()
    finally:
        sink.close()
    return 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    from ..pipeline.wav import read_wav_16k
    from . import factory

    settings, _ = settings_for(args)
    audio = [read_wav_16k(f) for f in args.files]  # bad files fail before the model loads
    stt = factory.build_stt(settings, factory.home_from_settings(settings.home))
    stt.load()
    for name, samples in zip(args.files, audio, strict=True):
        heard = stt.transcribe(samples)
        line = {"file": name, "text": heard.text, "confidence": heard.confidence}
        print(json.dumps(line) if args.json else heard.text, flush=True)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from ..models import catalog, locate
    from . import factory

    settings, _ = settings_for(args)
    if args.action == "build":
        from ..models.build_slm import ensure_built

        names = [args.model] if args.model else [settings.slm.model]
        target = Path(args.models_dir) if args.models_dir else factory.models_dir(settings)
        for name in names:
            path = ensure_built(name, target)
            print(f"{name}: {path}")
        return 0
    if args.action == "tune":
        from ..models.tune.run import tune

        adapter = tune(args.model or settings.slm.model, examples=args.examples, epochs=args.epochs,
                       threads=args.threads, seed=args.seed, exclude=[Path(p) for p in args.exclude or ()],
                       out=Path(args.out) if args.out else None, log=Path(args.log) if args.log else None)
        print(f"adapter: {adapter} (`slm-voice models build` merges it)")
        return 0
    if args.action in ("export", "import"):
        from ..models import archive

        target = Path(args.models_dir) if args.models_dir else factory.models_dir(settings)
        if args.action == "export":
            model = args.model or settings.slm.model
            out = archive.export_model(model, target, args.file or archive.default_archive_name(model))
            print(f"{model}: {out} ({out.stat().st_size / 1e6:.0f} MB)")
        else:
            if not args.file:
                raise CliError("models import: name the archive, e.g. slm-voice models import slm-voice-MODEL.tar")
            folder = archive.import_model(args.file, target, force=args.force)
            print(f"{folder.name}: {folder} (every file's sha256 checked)")
        return 0
    from ..models.build_slm import is_built

    rows = []
    for spec in catalog.CATALOG:
        status = locate.status(spec)
        if spec.stage == "slm":
            status += ", built" if is_built(spec.name, factory.models_dir(settings)) else ", not built"
        packages = ", ".join(dict.fromkeys(f.package for f in spec.files))
        rows.append((spec.key, packages, spec.size, spec.licence, status))
    if args.json:
        keys = ("model", "package", "size", "licence", "status")
        for row in rows:
            print(json.dumps(dict(zip(keys, row, strict=True))))
        return 0
    print(f"{'model':28} {'size':>9}  {'status':20} {'licence':34} package")
    for key, pkg, size, lic, status in rows:
        print(f"{key:28} {size / 1e6:8.1f}M  {status:20} {lic[:34]:34} {pkg}")
    return 0


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slm-voice", description="On-device voice assistant.")
    p.add_argument("--version", action="version", version=f"slm-voice {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--config", help="config file (default: $SLM_VOICE_CONFIG, ./config.yaml, "
                        "/etc/slm-voice/config.yaml, else built-in defaults)")
        return sp

    sp = add("run", "Run the assistant in the foreground until SIGINT/SIGTERM.")
    sp.set_defaults(func=cmd_run)
    sp = add("process", "Feed WAV files through the streaming pipeline; one result per turn.")
    sp.add_argument("--no-wake", action="store_true", help="each file is a command without a wake word")
    sp.add_argument("--realtime", action="store_true", help="pace audio at real speed (true latencies)")
    sp.add_argument("--reply-dir", help="write each file's spoken reply as a WAV here")
    sp.add_argument("--json", action="store_true", help="one JSON object per turn per line")
    sp.add_argument("files", nargs="+", metavar="FILE")
    sp.set_defaults(func=cmd_process)
    sp = add("understand", "Text straight into the intent tiers.")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--no-slm", action="store_true", help="templates only")
    sp.add_argument("text", nargs="+")
    sp.set_defaults(func=cmd_understand)
    sp = add("say", "Speak a text with Piper.")
    sp.add_argument("--out", help="write a WAV file instead of playing on audio.sink")
    sp.add_argument("text", nargs="+")
    sp.set_defaults(func=cmd_say)
    sp = add("transcribe", "Transcribe WAV files with Whisper.")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("files", nargs="+", metavar="FILE")
    sp.set_defaults(func=cmd_transcribe)
    sp = add("models", "List models (package, size, licence, installed and verified), or build the language model.")
    sp.add_argument("action", nargs="?", choices=["list", "build", "tune", "export", "import"], default="list")
    sp.add_argument("file", nargs="?", help="right after the action; export: the archive to write (default: "
                    "./slm-voice-MODEL-rN.tar); import: the archive to install")
    sp.add_argument("--model", help="build, export: qwen2.5-coder-0.5b or smollm2-135m (default: slm.model)")
    sp.add_argument("--models-dir", help="build, export, import: the models folder (default: models.dir)")
    sp.add_argument("--force", action="store_true", help="import: replace another build of the same model")
    sp.add_argument("--examples", type=int, help="tune: training examples to generate (default: the model's)")
    sp.add_argument("--epochs", type=float, help="tune: passes over the examples (default: the model's)")
    sp.add_argument("--threads", type=int, help="tune: CPU threads for training (default: all)")
    sp.add_argument("--seed", type=int, default=0, help="tune: seed of the data generator and of training")
    sp.add_argument("--exclude", nargs="*", help="tune: cases files whose sentences must never be trained on")
    sp.add_argument("--out", help="tune: write the adapter here (default: models/tune/adapters/MODEL)")
    sp.add_argument("--log", help="tune: also append training progress to this file")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_models)
    _add_plugin_commands(add)
    return p


AddCommand = Callable[[str, str], argparse.ArgumentParser]
"""add(name, help) -> a subcommand parser that already takes --config; set `func` on it with set_defaults."""


def _add_plugin_commands(add: AddCommand) -> None:
    """Subcommands other packages register under the `slm_voice.commands` entry point (the evaluation room adds
    bench and eval): the daemon finds them by name and never imports them itself."""
    for ep in sorted(importlib.metadata.entry_points(group="slm_voice.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as e:  # an optional room missing from this install: its commands are left out
            log.debug("command %s unavailable: %s", ep.name, e)
            continue
        register(add)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") else
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("faster_whisper", "amqtt", "transitions"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    from ..models.locate import ModelError
    from ..pipeline.audio import AudioError

    try:
        return int(args.func(args) or 0)
    except (ConfigError, ModelError, AudioError, CliError) as e:
        print(f"slm-voice: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
