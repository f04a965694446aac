"""Proofs that a configuration can start, made before anything running is replaced: every folder it will write,
every file it will read, every socket it will listen on. Each failure is a ConfigError naming the key.

Folders are created here (the daemon would create them a moment later): on /proc or a read-only mount only
creating one proves it cannot be, and root passes every permission check.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
import tempfile
from pathlib import Path

from ..pipeline.audio import AudioError
from ..pipeline.wav import read_wav_info
from .settings import ConfigError, TlsSettings


def writable_dir(path: Path, key: str) -> None:
    """The folder exists (created if missing) and a file can be written in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ConfigError(f"{key}: cannot write in {path}: {e.strerror or e}") from None


def readable_file(path: Path, key: str) -> None:
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as e:
        raise ConfigError(f"{key}: cannot read {path}: {e.strerror or e}") from None


def tls_files(tls: TlsSettings, key: str = "mqtt.tls") -> None:
    """The CA and the client certificate and key load as the MQTT client will load them."""
    if not tls.enabled:
        return
    for name in ("ca_file", "certfile", "keyfile"):
        if (value := getattr(tls, name)) is not None:
            readable_file(Path(value), f"{key}.{name}")
    if tls.keyfile is not None and tls.certfile is None:
        raise ConfigError(f"{key}.keyfile: set certfile with it")
    try:
        context = ssl.create_default_context(cafile=tls.ca_file)
        if tls.certfile is not None:
            context.load_cert_chain(tls.certfile, tls.keyfile)
    except (ssl.SSLError, ValueError, OSError) as e:
        raise ConfigError(f"{key}: cannot load ca_file/certfile/keyfile: {e}") from None


def audio_files(source: str, sink: str) -> None:
    """A file: source is a readable WAV; a file: sink's folder takes a file."""
    if source.startswith("file:"):
        try:
            read_wav_info(source[5:])
        except AudioError as e:
            raise ConfigError(f"audio.source: {e}") from None
    if sink.startswith("file:"):
        folder = Path(sink[5:]).expanduser().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ConfigError(f"audio.sink: cannot write in {folder}: no such folder or not writable")


def bindable(host: str, port: int, key: str) -> None:
    """host:port can be listened on now (nothing else holds it, the address is this machine's)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as e:
        raise ConfigError(f"{key}: cannot resolve {host!r}: {e}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            why = "already in use" if e.errno == errno.EADDRINUSE else e.strerror or str(e)
            raise ConfigError(f"{key}: cannot listen on {host}:{port}: {why}") from None
