"""The server's listening socket, bound before anything slow is loaded.

`serve` binds first and loads the model and the cameras after, so a port in use, a host that is
not this machine's or a port that needs root answers in milliseconds with one line (status 2),
instead of after the model has loaded. uvicorn then serves on this socket (`sockets=[...]`).
Nothing here imports FastAPI or uvicorn.
"""

from __future__ import annotations

import argparse
import errno
import socket

from ..errors import FastSAMVideoError


class ListenError(FastSAMVideoError):
    """The address cannot be listened on."""


def port_number(text: str) -> int:
    """An argparse `type=`: a TCP port, 0 (any free port) to 65535."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535 (0: any free port), got {text}")
    return value


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A TCP socket bound to (host, port) and listening; ListenError (one line) when it cannot be."""
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as err:
        raise ListenError(f"--host {host}: not an address or a name this machine can resolve ({err.strerror}); "
                          "use 127.0.0.1, 0.0.0.0 (every interface) or one of this machine's addresses") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart right after a stop may rebind
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as err:
        sock.close()
        raise ListenError(_why(err, host, port, where)) from None
    sock.set_inheritable(True)
    return sock


def _why(err: OSError, host: str, port: int, where: str) -> str:
    if err.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: port {port} is in use (another server runs there: stop it, or choose "
                "another --port)")
    if err.errno == errno.EADDRNOTAVAIL:
        return (f"cannot listen on {where}: {host} is not an address of this machine (use 127.0.0.1, 0.0.0.0 "
                "for every interface, or one of this machine's addresses)")
    if err.errno == errno.EACCES:
        return f"cannot listen on {where}: ports below 1024 need root (choose --port 1024 or above, e.g. 8000)"
    return f"cannot listen on {where}: {err.strerror or err}"
