"""Names as clients and HAProxy each need them.

A *route* name travels in a URL path segment and is a key of HAProxy's route map, so it
is restricted to what SageMaker endpoint names and ECS service names have in common:
letters, digits, ``-`` and ``_``. A *target* name (a task id, possibly an ARN) becomes
an HAProxy server name, whose alphabet is narrower; it is escaped reversibly so that
``targets()`` hands back exactly the names that were registered.
"""

from __future__ import annotations

import ipaddress
import re

from dockyard.errors import SpecError

_ROUTE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")
_SERVER_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_ESCAPE = "."  # allowed by HAProxy, never left unescaped, so decoding is unambiguous
_HOST_PORT = re.compile(r"\[?(?P<host>[0-9A-Fa-f:.]+?)\]?:(?P<port>\d{1,5})")


def check_route(route: str) -> str:
    """Return ``route`` if it can be routed to, else raise :class:`SpecError`."""
    if not _ROUTE.fullmatch(route):
        raise SpecError(
            f"route name {route!r} cannot be used in a URL",
            field="route",
            hint="use 1-255 letters, digits, '-' or '_', starting with a letter or digit",
        )
    return route


def check_address(address: str) -> str:
    """``address`` as HAProxy spells it back (``ip:port``, IPv6 in brackets), or raise.

    Only IP addresses: a host name would be resolved once, when the server is added,
    and read back as an IP, which would make registering the same target twice look
    like a change of address.
    """
    match = _HOST_PORT.fullmatch(address)
    try:
        if match is None or not 0 < int(match["port"]) < 65536:
            raise ValueError(address)
        ip = ipaddress.ip_address(match["host"])
    except ValueError:
        raise SpecError(
            f"target address {address!r} is not IP:PORT",
            field="address",
            hint="give the published address of the replica, e.g. 127.0.0.1:32771",
        ) from None
    port = int(match["port"])
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def server_name(target_name: str) -> str:
    """HAProxy server name for a target name (reversible, see :func:`target_name`)."""
    if not target_name:
        raise SpecError("target name is empty", field="name", hint="use the replica's task id")
    out: list[str] = []
    for char in target_name:
        if char in _SERVER_SAFE:
            out.append(char)
        else:
            out.extend(f"{_ESCAPE}{byte:02x}" for byte in char.encode())
    return "".join(out)


def target_name(server: str) -> str:
    """Inverse of :func:`server_name`."""
    if _ESCAPE not in server:
        return server
    raw = bytearray()
    i = 0
    while i < len(server):
        if server[i] == _ESCAPE:
            raw.append(int(server[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(server[i].encode())
            i += 1
    return raw.decode()
