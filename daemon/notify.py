"""systemd's notify protocol (sd_notify) without systemd-python: one datagram to $NOTIFY_SOCKET.

Messages: READY=1 once models are warm, WATCHDOG=1 every watchdog_interval() from the audio loop,
STATUS=<text> for `systemctl status`, RELOADING=1, STOPPING=1. Outside systemd (no NOTIFY_SOCKET) every
call is a no-op, so the daemon calls these unconditionally.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(msg: str) -> bool:
    """Send one notification (e.g. "READY=1" or "STATUS=listening"); False when not under systemd.

    A failed send is logged, never raised: a missing watchdog ping must not take the daemon down with it.
    """
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):  # abstract socket namespace
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(path)
            # Never wait: a notify socket nobody reads (a full queue) must not stall the audio loop.
            s.send(msg.encode("utf-8"), socket.MSG_DONTWAIT)
    except BlockingIOError:
        log.debug("sd_notify %r dropped: the notify socket's queue is full", msg)
        return False
    except OSError as e:
        log.warning("sd_notify %r to %s failed: %s", msg, os.environ.get("NOTIFY_SOCKET"), e)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None when no watchdog is set for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():  # the watchdog is meant for another process
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not an integer; watchdog pings disabled", usec)
        return None
    return value / 2e6 if value > 0 else None
