"""The one door out of the machine.

Every HTTP client that may reach a non-loopback host comes from here: remote
model backends pass `http_client(...)` to their SDK (openai and anthropic
accept one). This module refuses such requests in offline mode, on every
request, not only at construction, so a redirect or a changed base URL cannot
slip past. Redaction of personal data and the ledger of what left plug into
the same request hook: psi.egress.outbound (the ledger rows, the privacy policy,
redaction per call), psi.egress.ledger (the rows).
"""

from __future__ import annotations

import ipaddress

import httpx2

from psi.egress.outbound import Outbound
from psi.errors import OfflineRefusal

__all__ = [
    "Outbound",
    "check_destination",
    "http_client",
    "is_loopback",
    "route_hub_downloads",
]


def is_loopback(host: str | None) -> bool:
    """True for hosts that stay on this machine: localhost and 127.0.0.0/8, ::1."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_destination(url: str | httpx2.URL, *, offline: bool, purpose: str) -> None:
    """Raise OfflineRefusal if `url` leaves the machine while offline mode is on."""
    host = httpx2.URL(str(url)).host
    if offline and not is_loopback(host):
        raise OfflineRefusal(
            f"Offline mode is on: refused to send {purpose} to {host}.",
            hint="Use a local model (`--model local`), or turn offline mode off with "
            "`psi config set offline false` (and unset PSI_OFFLINE).",
        )


def http_client(
    *,
    purpose: str,
    offline: bool,
    timeout: float,
    transport: httpx2.BaseTransport | None = None,
    follow_redirects: bool = False,
    outbound: Outbound | None = None,
) -> httpx2.Client:
    """An HTTP client (httpx2, as the openai and anthropic SDKs use) whose every
    request passes the egress check, redirects included (hooks run per request).
    With `outbound` (a remote model's door), each request is also checked against
    the user's privacy policy and written to the ledger (psi.egress.outbound).
    `transport` lets tests answer in-process."""

    def guard(request: httpx2.Request) -> None:
        check_destination(request.url, offline=offline, purpose=purpose)
        if outbound is not None:
            outbound.hook(request)

    return httpx2.Client(
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
        event_hooks={"request": [guard]},
        follow_redirects=follow_redirects,
        transport=transport,
    )


def route_hub_downloads(*, purpose: str, offline: bool) -> None:
    """Send huggingface_hub's requests through this door, and keep its telemetry home.

    huggingface_hub asks for its HTTP client through a factory (set here to
    `http_client`). With telemetry on, building its User-Agent also fetches an
    "agent harnesses" registry from huggingface.co, whatever endpoint a
    download names: psi sends no telemetry, so that is switched off first.
    """
    from huggingface_hub import constants, set_client_factory

    constants.HF_HUB_DISABLE_TELEMETRY = True
    set_client_factory(
        lambda: http_client(purpose=purpose, offline=offline, timeout=60.0, follow_redirects=True)
    )
