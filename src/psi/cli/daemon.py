"""`psi daemon`: psi reaching out on its own, in the foreground until Ctrl-C.

Once a minute it sends what fell due (the morning agenda, habit and task
reminders, the weekly review) to this terminal, the desktop, the webhook in
`goals.webhook_url`, and the next `psi chat`. `--once` runs a single pass and
exits, for cron or a systemd timer.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from psi.cli.output import err, friendly, out

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from psi.goals.outreach import NoticeDraft
    from psi.goals.scheduler import Outreach


@friendly
def daemon(
    once: bool = typer.Option(False, "--once", help="Run one pass and exit (for cron)."),
) -> None:
    """Reach out on your own: morning agenda, habit and task reminders, the weekly review."""
    from psi.config import load_settings
    from psi.goals.scheduler import Outreach
    from psi.store.db import open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    zone = settings.zone()
    outreach = Outreach(
        settings,
        store,
        user_id=store.ensure_user(settings.user),
        echo=lambda notice: _show(notice, zone),
    )
    try:
        if once:
            if not outreach.run_once():
                err.print("[dim]Nothing to send.[/]")
            return
        _run_until_stopped(outreach)
    finally:
        outreach.close()
        store.dispose()


def _run_until_stopped(outreach: Outreach) -> None:
    import threading

    from psi.goals.scheduler import start_scheduler, stop_scheduler

    stop = threading.Event()
    # Ctrl-C and SIGTERM end the wait, never a pass half-way through its delivery.
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    scheduler = start_scheduler(outreach)
    try:
        out.print(
            f"psi is reaching out ({outreach.zone.key}; quiet "
            f"{outreach.settings.goals.quiet_hours}). Ctrl-C to stop."
        )
        while not stop.wait(1.0):
            pass
    finally:
        stop_scheduler(scheduler, outreach)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.print("Stopped.")


def _show(notice: NoticeDraft, zone: ZoneInfo) -> None:
    when = notice.send_at.astimezone(zone)
    text = escape(notice.text).replace("\n", "\n    ")
    out.print(f"[dim]{when:%Y-%m-%d %H:%M}[/] [bold]{notice.kind}[/]\n    {text}")
