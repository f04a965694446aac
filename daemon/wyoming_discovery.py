"""Zeroconf: the Wyoming server advertised as _wyoming._tcp.local., which Home Assistant discovers (Settings >
Devices & services shows "Discovered: Wyoming Protocol")."""

from __future__ import annotations

import logging
import socket

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def advertised_address(host: str, configured: str | None) -> str | None:
    """The IPv4 address to advertise: the configured one, the listening host, or for 0.0.0.0 the source address of
    the route to the mDNS group (a UDP connect sends nothing); None when there is none."""
    if configured:
        return configured
    if host not in ("", "0.0.0.0"):
        return host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((_MDNS_GROUP, 5353))
        except OSError:
            return None
        return probe.getsockname()[0]


class Advertisement:
    """One registered service, answered on the interface of its address only; register() then unregister() on the
    event loop."""

    def __init__(self, name: str, address: str, port: int) -> None:
        self.name = name
        self.address = address
        self.port = port
        self._zc = None
        self._info = None

    async def register(self) -> None:
        from zeroconf import IPVersion
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

        # One explicit IPv4 interface: no interface scan, which needs a netlink socket the systemd unit does not
        # allow (RestrictAddressFamilies), and no announcement on bridges or VPNs Home Assistant is not on.
        self._zc = AsyncZeroconf(interfaces=[self.address], ip_version=IPVersion.V4Only)
        self._info = AsyncServiceInfo(SERVICE_TYPE, f"{self.name}.{SERVICE_TYPE}",
                                      addresses=[socket.inet_aton(self.address)], port=self.port)
        await self._zc.async_register_service(self._info)
        log.info("wyoming: advertised over zeroconf as %s at %s:%d", self.name, self.address, self.port)

    async def unregister(self) -> None:
        zc, self._zc = self._zc, None
        if zc is None:
            return
        try:
            if self._info is not None:
                await zc.async_unregister_service(self._info)
        finally:
            await zc.async_close()
