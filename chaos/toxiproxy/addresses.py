"""`host:port` strings as Toxiproxy writes them (IPv6 in brackets, localhost as 127.0.0.1)."""

from __future__ import annotations

import socket

from chaos.toxiproxy.errors import bad_request


def split(address: str, field: str) -> tuple[str, int]:
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise bad_request(f"{field} must be host:port, got {address!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host, int(port_text)


def listen_host(host: str) -> str:
    # Go resolves "localhost" to the IPv4 loopback and an empty host to every interface.
    if host in ("", "0.0.0.0"):
        return "0.0.0.0"
    if host == "localhost":
        return "127.0.0.1"
    return host


def join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_listener(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A non-blocking listening socket; OSError (e.g. address in use) is the caller's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if family == socket.AF_INET:
        try:
            socket.inet_aton(host)
        except OSError:
            infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
            host = infos[0][4][0]
    # proto given explicitly: asyncio only sets TCP_NODELAY on the connections it accepts when
    # the socket says IPPROTO_TCP, and without it every API answer waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # Like Go's listeners, so a disabled proxy can rebind its port at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def bound(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return join(host, port)
