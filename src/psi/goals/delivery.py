"""Sending a notice: stored once, then shown wherever the user can see it.

    notice = deliver(draft, settings, store, user_id=1, now=now, egress=client, echo=print)

Every notice becomes a row in `notices` first; its key is unique per user, so
delivering the same draft twice makes nothing the second time (returns None).
Then, each on its own and none able to fail the run:

  - terminal: `echo(draft)` when psi runs attached (`psi daemon` prints);
  - desktop: `notify-send` when it is on PATH and `goals.desktop` is on;
  - webhook: an ntfy-style POST of the text to `goals.webhook_url`, through
    psi's egress client, so offline mode refuses it like any request out;
  - chat: the row waits, unshown, until the next `psi chat` shows it
    (`pending_notices`, then `mark_shown`).

The row's `channels` records what happened on each: "terminal", "desktop",
"webhook", or "webhook failed: HTTP 500", "webhook refused: offline mode",
"desktop failed: ...". Failures are logged there and in the log, never raised.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx2
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from psi import egress as egress_point
from psi.config import Settings
from psi.errors import OfflineRefusal
from psi.goals.outreach import NoticeDraft
from psi.store.db import Store
from psi.store.models import Notice

log = logging.getLogger(__name__)

DESKTOP_TIMEOUT = 5.0
WEBHOOK_TIMEOUT = 10.0

Echo = Callable[[NoticeDraft], None]


@dataclass(frozen=True)
class NoticeView:
    id: int
    kind: str
    key: str
    text: str
    created_at: datetime
    shown_at: datetime | None
    channels: list[str]


def webhook_client(settings: Settings) -> httpx2.Client:
    """The egress client webhook POSTs go through."""
    from psi.egress.door import door

    purpose = "a notice to your webhook (goals.webhook_url)"
    return egress_point.http_client(
        purpose=purpose,
        offline=settings.offline,
        timeout=WEBHOOK_TIMEOUT,
        outbound=None
        if egress_point.is_loopback(httpx2.URL(settings.goals.webhook_url or "").host)
        else door(settings, purpose, privacy="allow"),
    )


def deliver(
    notice: NoticeDraft,
    settings: Settings,
    store: Store,
    *,
    user_id: int,
    now: datetime,
    egress: httpx2.Client | None = None,
    echo: Echo | None = None,
) -> NoticeView | None:
    """Store `notice` and send it on every channel; None if it was made before.
    `egress` is the client for the webhook (one from `webhook_client` if not given)."""
    row_id = _store(notice, store, user_id=user_id, now=now)
    if row_id is None:
        return None
    channels: list[str] = []
    if echo is not None:
        echo(notice)
        channels.append("terminal")
    if settings.goals.desktop:
        channels += _desktop(notice)
    url = settings.goals.webhook_url
    if url:
        if egress is None:
            with webhook_client(settings) as client:
                channels.append(_webhook(notice, url, client))
        else:
            channels.append(_webhook(notice, url, egress))
    with store.session() as session:
        row = session.get(Notice, row_id)
        assert row is not None
        row.channels = channels
        return _view(row)


def pending_notices(store: Store, user_id: int) -> list[NoticeView]:
    """Notices no chat has shown yet, oldest first."""
    query = (
        select(Notice)
        .where(Notice.user_id == user_id, Notice.shown_at.is_(None))
        .order_by(Notice.created_at, Notice.id)
    )
    with store.session() as session:
        return [_view(row) for row in session.scalars(query)]


def mark_shown(store: Store, user_id: int, ids: Sequence[int], *, at: datetime) -> None:
    with store.session() as session:
        session.execute(
            update(Notice)
            .where(Notice.user_id == user_id, Notice.id.in_(list(ids)), Notice.shown_at.is_(None))
            .values(shown_at=at)
        )


def made_since(store: Store, user_id: int, since: datetime) -> dict[str, datetime]:
    """Keys of the notices made from `since` on, with when each was made."""
    query = select(Notice.key, Notice.created_at).where(
        Notice.user_id == user_id, Notice.created_at >= since
    )
    with store.session() as session:
        return {key: at for key, at in session.execute(query)}


def _store(notice: NoticeDraft, store: Store, *, user_id: int, now: datetime) -> int | None:
    try:
        with store.session() as session:
            known = session.scalar(
                select(Notice.id).where(Notice.user_id == user_id, Notice.key == notice.key)
            )
            if known is not None:
                return None
            row = Notice(
                user_id=user_id,
                kind=notice.kind,
                key=notice.key,
                text=notice.text,
                created_at=now,
                channels=[],
            )
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None  # another process made it between the check and the insert


def _desktop(notice: NoticeDraft) -> list[str]:
    program = shutil.which("notify-send")
    if program is None:
        return []
    title, _, body = notice.text.partition("\n")
    command = (
        [program, "--app-name=psi", title, body] if body else [program, "--app-name=psi", title]
    )
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=DESKTOP_TIMEOUT, check=False, text=True
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("notify-send failed for %s: %s", notice.key, exc)
        return [f"desktop failed: {type(exc).__name__}"]
    if done.returncode != 0:
        log.warning("notify-send exited %s for %s: %s", done.returncode, notice.key, done.stderr)
        return [f"desktop failed: exit {done.returncode}"]
    return ["desktop"]


def _webhook(notice: NoticeDraft, url: str, client: httpx2.Client) -> str:
    try:
        response = client.post(
            url, content=notice.text.encode("utf-8"), headers={"Title": f"psi: {notice.kind}"}
        )
    except OfflineRefusal:
        log.info("offline mode: notice %s not sent to the webhook", notice.key)
        return "webhook refused: offline mode"
    except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
        log.warning("webhook failed for %s: %s", notice.key, exc)
        return f"webhook failed: {type(exc).__name__}"
    if response.is_error:
        log.warning("webhook answered %s for %s", response.status_code, notice.key)
        return f"webhook failed: HTTP {response.status_code}"
    return "webhook"


def _view(row: Notice) -> NoticeView:
    return NoticeView(
        id=row.id,
        kind=row.kind,
        key=row.key,
        text=row.text,
        created_at=row.created_at,
        shown_at=row.shown_at,
        channels=list(row.channels),
    )


__all__ = [
    "NoticeView",
    "deliver",
    "made_since",
    "mark_shown",
    "pending_notices",
    "webhook_client",
]
