"""The embedded MQTT broker (amqtt, MQTT 3.1.1) for a satellite with no broker of its own.

amqtt is asyncio-based; it gets its own thread and event loop so it never shares a loop with the audio
pipeline. It accepts anonymous clients: bind it to 127.0.0.1 unless the LAN may publish commands.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import threading
from concurrent.futures import Future

from amqtt.broker import Broker

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not start (the message says why, e.g. the port is taken)."""


class EmbeddedBroker:
    """amqtt on host:port in a background thread: start() blocks until it listens, stop() until it is gone."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Broker | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Listen on host:port; raises BrokerError with the reason when it cannot."""
        if self._thread is not None:
            raise BrokerError("embedded MQTT broker already started")
        _check_bindable(self.host, self.port)  # a clear error instead of amqtt's traceback
        logging.getLogger("transitions").setLevel(logging.WARNING)  # amqtt's state machine logs every step
        started: Future[None] = Future()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(started,), name="mqtt-broker", daemon=True)
        self._thread.start()
        try:
            started.result(timeout)
        except BaseException:
            self._join()
            raise
        if not _is_loopback(self.host):
            log.warning("embedded MQTT broker on %s:%d accepts anonymous clients from the network",
                        self.host, self.port)
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect clients and close the listener."""
        if self._thread is None or self._loop is None:
            return
        if self._broker is not None and self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                fut.result(timeout)
            except Exception as e:  # shutting down anyway
                log.warning("embedded MQTT broker did not shut down cleanly: %s", e)
        self._join(timeout)

    def _join(self, timeout: float = 5.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)
        self._thread = self._loop = self._broker = None

    def _run(self, started: Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start_broker())
        except BaseException as e:
            started.set_exception(_explain(e, self.host, self.port))
            loop.close()
            return
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            # amqtt leaves tasks pending after shutdown(): cancel and reap them on this loop now. Left alone, the
            # garbage collector destroys them later on whatever thread runs then, and their cleanup code runs there.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=2.0))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _start_broker(self) -> None:
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._broker = Broker(config, loop=asyncio.get_running_loop())
        await self._broker.start()


def _check_bindable(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise BrokerError(f"embedded MQTT broker cannot listen on {host}:{port}: {e.strerror}") from None
    family, type_, proto, _, addr = infos[0]
    with socket.socket(family, type_, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server will
        try:
            s.bind(addr)
        except OSError as e:
            raise _explain(e, host, port) from None


def _explain(e: BaseException, host: str, port: int) -> BrokerError:
    cause: BaseException | None = e
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    where = f"{host}:{port}"
    if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
        msg = (f"embedded MQTT broker cannot listen on {where}: the port is already in use "
               "(another broker? set mqtt.broker: external to use it, or choose another mqtt.port)")
    elif isinstance(cause, OSError) and cause.errno == errno.EACCES:
        msg = f"embedded MQTT broker cannot listen on {where}: permission denied (ports below 1024 need privileges)"
    elif isinstance(cause, OSError):
        msg = f"embedded MQTT broker cannot listen on {where}: {cause.strerror or cause}"
    else:
        msg = f"embedded MQTT broker failed to start on {where}: {e}"
    return BrokerError(msg)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
