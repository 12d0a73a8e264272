"""The listening sockets of `psi serve --workers N`: one per worker process, on one port.

    check_free("127.0.0.1", 8765)        # InputError if anything listens there already
    sock = listener("127.0.0.1", 8765)   # in each worker: its own socket, SO_REUSEPORT

With one socket shared by every worker (uvicorn's own `--workers`), the kernel hands
new connections to whichever worker wakes first, and the same busy worker keeps
winning: at 50 clients one of two workers served every request while the other idled.
With a socket each in one SO_REUSEPORT group, the kernel spreads connections across
the workers by their addresses.

This module only binds and listens; it never connects anywhere (the egress boundary
test holds it to that): what leaves the machine goes through psi.egress.
"""

from __future__ import annotations

import socket
import sys

from psi.errors import InputError


def balanced() -> bool:
    """Whether this system spreads connections across SO_REUSEPORT sockets (Linux does)."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_free(host: str, port: int) -> None:
    """Refuse a port something already listens on, before any worker starts: with
    SO_REUSEPORT a second psi serve would otherwise quietly share it with the first."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InputError(
                f"psi serve cannot listen on {host}:{port}: {exc.strerror}.",
                hint="Stop what uses that port, or choose another with --port.",
            ) from None


def listener(host: str, port: int, *, backlog: int = 2048) -> socket.socket:
    """A listening socket of its own for this worker, in the port's SO_REUSEPORT group."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock
