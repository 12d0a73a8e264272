"""The egress door set up from settings: which destinations get one, and what it holds.

`outbound_for(profile, settings)` gives a remote model profile its `Outbound`:
the user's privacy policy, the ledger in psi's database, a redactor that knows
the user's own names and places (psi.egress.known), and whether payloads are
kept. A local profile gets none: nothing it sends leaves the machine. A remote
embedder gets one the same way (`door`). The webhook the user configured for
notices gets one under "allow": the user named that destination for exactly
that, so local-only does not stop it, but each POST is in the ledger.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import httpx2

from psi.egress import is_loopback
from psi.egress.outbound import Outbound, Privacy

if TYPE_CHECKING:
    from psi.config import ModelProfile, Settings
    from psi.egress.ledger import Ledger
    from psi.egress.outbound import Redacting


def outbound_for(profile: ModelProfile, settings: Settings, *, purpose: str) -> Outbound | None:
    """A model profile's door, or None when it stays on the machine."""
    return None if stays_here(profile) else door(settings, purpose)


def door(settings: Settings, purpose: str, *, privacy: Privacy | None = None) -> Outbound:
    """An `Outbound` under the user's policy (or `privacy`), writing to psi's ledger."""
    return Outbound(
        purpose=purpose,
        privacy=privacy or privacy_of(settings),
        ledger=lambda: open_ledger(settings.db_url, settings.user),
        redactor=lambda: make_redactor(settings),
        keep_payloads=settings.egress.keep_payloads,
    )


def stays_here(profile: ModelProfile) -> bool:
    """Whether what this profile is sent stays on the machine: it says `local = true`, runs
    in-process, or talks to a loopback address and does not say `local = false` (a tunnel
    to a cloud, or a stand-in for one, is declared remote that way)."""
    if profile.local or profile.backend in ("llamacpp", "scripted"):
        return True
    if "local" in profile.model_fields_set:
        return False
    url = profile.base_url
    return url is not None and is_loopback(httpx2.URL(url).host)


def privacy_of(settings: Settings) -> Privacy:
    return settings.routing.privacy


@cache
def open_ledger(db_url: str, user: str) -> Ledger:
    from psi.egress.ledger import Ledger
    from psi.store.db import open_store

    store = open_store(db_url)
    return Ledger(store, user_id=store.ensure_user(user))


def make_redactor(settings: Settings) -> Redacting:
    from psi.egress.known import known_values
    from psi.egress.redact import Redactor

    redactor: Redacting = Redactor(known_values(settings))
    return redactor
