"""Where the pages listen: ``HOST:PORT`` read, bound, and whether it is loopback."""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["bind", "is_loopback", "parse_http_address"]

_BACKLOG = 128


def parse_http_address(text: str) -> tuple[str, int]:
    """``127.0.0.1:8081``, ``[::1]:8081`` or ``localhost:0`` (0: any free port)."""
    host, colon, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"not HOST:PORT, e.g. 127.0.0.1:8081: {text!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def bind(host: str, port: int) -> socket.socket:
    """A listening socket: bound here, before the server starts, so that port 0 is
    resolved and the real address can be printed, and a client may connect as soon
    as it is (connections wait in the backlog until the server accepts them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock
