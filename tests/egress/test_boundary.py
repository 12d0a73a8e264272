"""No other path out: only psi.egress may make a network client, and the test suite's
socket guard (tests/conftest.py) catches any connection off the machine."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "psi"
# Modules that open connections themselves: only the door may import them at all.
RAW = {"socket", "ssl", "http.client", "urllib.request", "urllib3", "requests", "aiohttp",
       "httpx", "websockets", "ftplib", "smtplib", "telnetlib"}  # fmt: skip
# httpx2 and the vendor SDKs are allowed for their types and errors; what makes a
# client, or sends, must come from psi.egress (every SDK client gets egress.http_client).
MAKERS = {
    "httpx2": {"Client", "AsyncClient", "HTTPTransport", "AsyncHTTPTransport", "get", "post",
               "put", "patch", "delete", "request", "stream"},
    "openai": {"OpenAI", "AsyncOpenAI", "AzureOpenAI"},
    "anthropic": {"Anthropic", "AsyncAnthropic"},
}  # fmt: skip
# huggingface_hub downloads: allowed after egress.route_hub_downloads (its client, no
# telemetry).
HUB = "huggingface_hub"


def modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        found.append((name, ast.parse(path.read_text(encoding="utf-8"), str(path))))
    return found


def imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


# psi serve's listening sockets (one per worker, SO_REUSEPORT): bound, never connected.
LISTENER = "psi.server.listen"
OUTBOUND = {"connect", "connect_ex", "create_connection", "sendto", "getaddrinfo",
            "gethostbyname", "urlopen"}  # fmt: skip


def test_only_the_egress_point_imports_network_clients() -> None:
    offenders = []
    for name, tree in modules():
        if name.startswith("psi.egress"):
            continue
        if name == LISTENER:
            assert imported(tree) & RAW == {"socket"}, "the listener needs socket, nothing else"
            continue
        for module in imported(tree):
            if module in RAW or module.split(".")[0] in RAW:
                offenders.append(f"{name} imports {module}")
    assert offenders == []


def test_the_listener_only_listens() -> None:
    """psi serve's own sockets are bound and listened on, never used to reach out."""
    tree = dict(modules())[LISTENER]
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert {"bind", "listen"} <= called
    assert called & OUTBOUND == set()


def test_clients_are_made_through_the_egress_point() -> None:
    """Outside psi.egress, an SDK client is made only with `http_client=` from egress, and
    no module calls httpx2's own client or request functions."""
    offenders = []
    for name, tree in modules():
        if name.startswith("psi.egress"):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                owner, attr = func.value.id, func.attr
                if owner == "httpx2" and attr in MAKERS["httpx2"]:
                    offenders.append(f"{name}:{node.lineno} calls httpx2.{attr}")
                if owner in ("openai", "anthropic") and attr in MAKERS[owner]:
                    keywords = {k.arg for k in node.keywords}
                    if "http_client" not in keywords and None not in keywords:
                        offenders.append(f"{name}:{node.lineno} makes {owner}.{attr} without "
                                         "an egress http_client")  # fmt: skip
        if HUB in {m.split(".")[0] for m in imported(tree)}:
            text = ast.unparse(tree)
            downloads = "hf_hub_download" in text or "snapshot_download" in text
            if downloads and "route_hub_downloads" not in text:
                offenders.append(f"{name} downloads from the hub without egress's client")
    assert offenders == []


def test_the_socket_guard_stops_a_connection_off_the_machine(
    socket_guard: list[str],
) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(AssertionError, match="tried to connect"):
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed
        with pytest.raises(AssertionError, match="tried to resolve"):
            socket.getaddrinfo("api.openai.com", 443)
    finally:
        sock.close()
    # Loopback stays allowed, and the test itself is then cleared of what it provoked.
    assert socket.getaddrinfo("127.0.0.1", 80)
    assert len(socket_guard) == 2
    socket_guard.clear()
