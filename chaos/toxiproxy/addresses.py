"""`host:port` strings read, resolved, bound and written the way Go's `net` package does.

Toxiproxy hands a proxy's listen address to `net.Listen("tcp", ...)` and reports what
`Addr().String()` gives back, and compares addresses with `net.ResolveTCPAddr`. The wording
of errors ("address local373: missing port in address") is Go's, since Toxiproxy answers them
as they are.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass


class AddressError(Exception):
    """An address Go would refuse; the message is Go's."""


def _addr_error(addr: str, why: str) -> AddressError:
    return AddressError(f"address {addr}: {why}" if addr else why)


def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's `net.SplitHostPort`."""
    missing, too_many = "missing port in address", "too many colons in address"
    i = hostport.rfind(":")
    if i < 0:
        raise _addr_error(hostport, missing)
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise _addr_error(hostport, "missing ']' in address")
        if end + 1 == len(hostport):
            raise _addr_error(hostport, missing)
        if end + 1 != i:
            raise _addr_error(hostport, too_many if hostport[end + 1] == ":" else missing)
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise _addr_error(hostport, too_many)
    if "[" in hostport[j:]:
        raise _addr_error(hostport, "unexpected '[' in address")
    if "]" in hostport[k:]:
        raise _addr_error(hostport, "unexpected ']' in address")
    return host, hostport[i + 1 :]


def parse_port(service: str) -> int:
    """Go's `LookupPort` for tcp: digits (with a sign, "" meaning 0) or a service name."""
    digits = service[1:] if service[:1] in ("+", "-") else service
    if not digits or (digits.isascii() and digits.isdigit()):
        port = int(digits or "0") * (-1 if service.startswith("-") else 1)
    else:
        try:
            port = socket.getservbyname(service.lower(), "tcp")
        except OSError:
            raise AddressError(f"lookup tcp/{service}: unknown port") from None
    if not 0 <= port <= 65535:
        raise _addr_error(service, "invalid port")
    return port


def join(host: str, port: int) -> str:
    """Go's `net.JoinHostPort`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ip_string(ip: str) -> str:
    """An IP as Go's `IP.String()` writes it (IPv4-mapped IPv6 as plain IPv4)."""
    address, _, zone = ip.partition("%")
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return f"{parsed}%{zone}" if zone else str(parsed)


def _literal(host: str) -> str | None:
    try:
        return _ip_string(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class TcpAddr:
    """What `net.ResolveTCPAddr` gives: an IP ("" for none, i.e. every interface) and a port."""

    ip: str
    port: int

    def __str__(self) -> str:
        return join(self.ip, self.port)

    @property
    def wildcard(self) -> bool:
        return self.ip in ("", "0.0.0.0", "::")


def resolve(hostport: str, prefer_ipv4: bool = True) -> TcpAddr:
    """Go's address resolution for "tcp": port first, then the host (IPv4 preferred).

    An empty address is every interface on a free port, as in Go.
    """
    if not hostport:
        return TcpAddr("", 0)
    host, service = split_host_port(hostport)
    port = parse_port(service)
    if not host:
        return TcpAddr("", port)
    literal = _literal(host)
    if literal is not None:
        return TcpAddr(literal, port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise AddressError(f"lookup {host}: no such host") from None
    ips = [_ip_string(str(info[4][0])) for info in infos]
    preferred = [ip for ip in ips if (":" not in ip) == prefer_ipv4]
    return TcpAddr((preferred or ips)[0], port)


def resolved_string(hostport: str) -> str:
    """`net.ResolveTCPAddr("tcp", hostport).String()`: how Toxiproxy compares listen addresses."""
    return str(resolve(hostport, prefer_ipv4="[" not in hostport))


class ListenError(Exception):
    """`net.Listen` failed; the message is Go's ("listen tcp 127.0.0.1:80: bind: ...")."""


def listen(hostport: str, backlog: int = 1024) -> socket.socket:
    """A non-blocking listening socket bound as `net.Listen("tcp", hostport)` would bind it.

    A wildcard host (empty, 0.0.0.0 or ::) listens on every interface, IPv6 and IPv4 at once
    where the system allows it, and is then reported as `[::]:port`, as Go does.
    """
    try:
        addr = resolve(hostport)
    except AddressError as exc:
        raise ListenError(f"listen tcp: {exc}") from None
    try:
        return _bind(addr, backlog)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ListenError(f"listen tcp {addr}: bind: {reason}") from None


@functools.cache
def _dual_stack() -> bool:
    """Whether one IPv6 socket can also take IPv4 connections (Go's `supportsIPv4map`)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    except OSError:
        return False
    return True


def _bind(addr: TcpAddr, backlog: int) -> socket.socket:
    if addr.wildcard and _dual_stack():
        return bind_listener("::", addr.port, backlog, dual_stack=True)
    return bind_listener(addr.ip or "0.0.0.0", addr.port, backlog)


def bind_listener(
    host: str, port: int, backlog: int = 1024, dual_stack: bool = False
) -> socket.socket:
    """A non-blocking listening socket; OSError (e.g. address in use) is the caller's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if family == socket.AF_INET and _literal(host) is None:
        host = str(socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
    # proto given explicitly: asyncio only sets TCP_NODELAY on the connections it accepts when
    # the socket says IPPROTO_TCP, and without it every API answer waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # Like Go's listeners, so a disabled proxy can rebind its port at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if dual_stack:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def bound(sock: socket.socket) -> str:
    """A listener's address as Go's `Listener.Addr().String()` writes it."""
    host, port = sock.getsockname()[:2]
    return join(_ip_string(host), port)
