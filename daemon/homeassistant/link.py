"""The live link to Home Assistant: its WebSocket API (https://developers.home-assistant.io/docs/api/websocket),
with the `websockets` library, on the daemon's event loop.

One connection, authenticated with a long-lived access token. Commands are matched to their results by id;
event subscriptions are renewed after every reconnect. When the connection drops, every waiting command fails at
once (LinkDown) — nothing is queued to be sent later — and the link reconnects with a doubling, jittered back-off
(0.25 s up to homeassistant.reconnect_max_s). Hooks registered with on_connected run after each (re)connect, once
the subscriptions are back (the home and state caches refresh there).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32 * 2**20
"""Largest message accepted from Home Assistant (get_states of a big home is a few MB)."""
MAX_SUBSCRIPTIONS = 32


class LinkDown(ConnectionError):
    """Home Assistant is not connected (or the connection dropped while waiting for an answer)."""


class HaError(RuntimeError):
    """Home Assistant answered a command with success: false."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AuthFailed(RuntimeError):
    """The token was refused."""


EventHandler = Callable[[dict[str, Any]], None]
Hook = Callable[[], Awaitable[None]]


def websocket_url(url: str) -> str:
    """http://host:8123 -> ws://host:8123/api/websocket (https -> wss); a ws(s):// url is taken as it is."""
    url = url.rstrip("/")
    if url.startswith(("ws://", "wss://")):
        return url if url.endswith("/api/websocket") else url + "/api/websocket"
    scheme, rest = url.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api/websocket"


class HomeAssistantLink:
    """A self-reconnecting, authenticated Home Assistant WebSocket API connection. Use on one event loop."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        connect_timeout_s: float = 10.0,
        reconnect_min_s: float = 0.25,
        reconnect_max_s: float = 5.0,
        verify_tls: bool = True,
    ) -> None:
        self.url = websocket_url(url)
        self._token = token
        self.connect_timeout_s = connect_timeout_s
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = max(reconnect_min_s, reconnect_max_s)
        self._ssl: ssl.SSLContext | None = None
        if self.url.startswith("wss://"):
            self._ssl = ssl.create_default_context()
            if not verify_tls:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._subscriptions: list[tuple[dict[str, Any], EventHandler]] = []
        self._live: dict[int, EventHandler] = {}  # subscription id on this connection -> handler
        self._hooks: list[Hook] = []
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.ha_version: str | None = None
        """Home Assistant's version, from its greeting."""
        self.connects = 0
        """Accepted connections so far (1 + reconnects)."""

    # ---- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (returns at once; an unreachable Home Assistant is retried)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="homeassistant-link")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        self._drop("the link was stopped")

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def on_connected(self, hook: Hook) -> None:
        """Run hook after every (re)connect, once subscriptions are renewed."""
        self._hooks.append(hook)

    # ---- commands -------------------------------------------------------------------------------------------

    async def call(self, msg: dict[str, Any], timeout: float = 10.0) -> Any:
        """Send one command and return its result. Raises LinkDown (not connected, or dropped while waiting),
        HaError (Home Assistant said no) or TimeoutError (no answer within timeout; the command may still run)."""
        if not self.connected or self._ws is None:
            raise LinkDown("Home Assistant is not connected")
        return await self._command(self._ws, msg, timeout)

    async def subscribe(self, msg: dict[str, Any], handler: EventHandler) -> None:
        """Subscribe (e.g. {"type": "subscribe_events", "event_type": "state_changed"}) now, if connected, and
        after every reconnect. handler(event) runs on the event loop and must not block."""
        if len(self._subscriptions) >= MAX_SUBSCRIPTIONS:
            raise ValueError(f"more than {MAX_SUBSCRIPTIONS} subscriptions")
        self._subscriptions.append((msg, handler))
        if self.connected and self._ws is not None:
            await self._subscribe(self._ws, msg, handler)

    async def _command(self, ws: ClientConnection, msg: dict[str, Any], timeout: float) -> Any:
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        try:
            await ws.send(json.dumps({**msg, "id": msg_id}))
            return await asyncio.wait_for(future, timeout)
        except websockets.ConnectionClosed as e:
            raise LinkDown(f"connection to Home Assistant closed: {e}") from None
        finally:
            self._waiting.pop(msg_id, None)

    async def _subscribe(self, ws: ClientConnection, msg: dict[str, Any], handler: EventHandler) -> None:
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        self._live[msg_id] = handler  # events may arrive right behind the result
        try:
            await ws.send(json.dumps({**msg, "id": msg_id}))
            await asyncio.wait_for(future, self.connect_timeout_s)
        except BaseException:
            self._live.pop(msg_id, None)
            raise
        finally:
            self._waiting.pop(msg_id, None)

    # ---- the connection -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.reconnect_min_s
        failures = 0
        while True:
            try:
                async with connect(self.url, ssl=self._ssl, open_timeout=self.connect_timeout_s,
                                   max_size=MAX_MESSAGE_BYTES, compression=None, proxy=None, ping_interval=20,
                                   ping_timeout=20, close_timeout=2) as ws:
                    await self._authenticate(ws)
                    failures, delay = 0, self.reconnect_min_s
                    reader = asyncio.create_task(self._read(ws))
                    try:
                        await self._ready(ws)
                        await reader
                    finally:
                        reader.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await reader
            except asyncio.CancelledError:
                raise
            except AuthFailed as e:
                failures += 1
                log.error("Home Assistant refused the token (%s): check homeassistant.token / token_file", e)
                delay = self.reconnect_max_s
            except (OSError, TimeoutError, websockets.WebSocketException, LinkDown, HaError, ValueError) as e:
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    log.warning("Home Assistant at %s: %s; retrying (attempt %d)", self.url, e or type(e).__name__,
                                failures)
            finally:
                was = self.connected
                self._drop("the connection to Home Assistant was lost")
                if was and not self._stopping:
                    log.warning("Home Assistant: connection lost; reconnecting")
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.reconnect_max_s)

    async def _authenticate(self, ws: ClientConnection) -> None:
        hello = json.loads(await asyncio.wait_for(ws.recv(), self.connect_timeout_s))
        if hello.get("type") != "auth_required":
            raise ValueError(f"unexpected greeting from Home Assistant: {str(hello)[:200]}")
        await ws.send(json.dumps({"type": "auth", "access_token": self._token}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), self.connect_timeout_s))
        if reply.get("type") != "auth_ok":
            raise AuthFailed(str(reply.get("message") or reply.get("type")))
        self.ha_version = reply.get("ha_version") or hello.get("ha_version")

    async def _ready(self, ws: ClientConnection) -> None:
        """Wait until Home Assistant runs, renew subscriptions, mark connected, run the hooks."""
        self._ws = ws
        self._live.clear()
        # A starting Home Assistant answers before its integrations are set up: its states and registries are
        # not whole until it reports RUNNING.
        while (await self._command(ws, {"type": "get_config"}, self.connect_timeout_s) or {}).get(
                "state", "RUNNING") != "RUNNING":
            await asyncio.sleep(0.5)
        for msg, handler in list(self._subscriptions):
            await self._subscribe(ws, msg, handler)
        self.connects += 1
        self._connected.set()
        log.info("Home Assistant %s: %s at %s", self.ha_version, "connected" if self.connects == 1 else "reconnected",
                 self.url)
        for hook in list(self._hooks):
            try:
                await hook()
            except (LinkDown, TimeoutError, HaError) as e:
                log.warning("Home Assistant: refreshing after connect failed: %s", e)
            except Exception:
                log.exception("Home Assistant: on-connect hook failed")

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                data = json.loads(raw)
            except ValueError:
                log.warning("Home Assistant sent a message that is not JSON; ignored")
                continue
            for msg in data if isinstance(data, list) else [data]:
                if isinstance(msg, dict):
                    self._dispatch(msg)

    def _dispatch(self, msg: dict[str, Any]) -> None:
        kind, msg_id = msg.get("type"), msg.get("id")
        if kind == "event":
            handler = self._live.get(msg_id) if isinstance(msg_id, int) else None
            if handler is not None:
                try:
                    handler(msg.get("event") or {})
                except Exception:
                    log.exception("Home Assistant: event handler failed")
            return
        future = self._waiting.get(msg_id) if isinstance(msg_id, int) else None
        if future is None or future.done():
            return
        if kind == "result" and not msg.get("success"):
            err = msg.get("error") or {}
            future.set_exception(HaError(str(err.get("code", "unknown")), str(err.get("message", ""))))
        elif kind == "pong":
            future.set_result(None)
        else:
            future.set_result(msg.get("result"))

    def _drop(self, why: str) -> None:
        self._connected.clear()
        self._ws = None
        self._live.clear()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(LinkDown(why))
        self._waiting.clear()
