"""The guard pipeline: one guard, the user's policy and the audit log, on every channel.

    guards = Guards(lambda: EmbeddedGuard(), settings.safety, audit)
    guards.warm()                                   # load the guard off the main thread
    verdict = guards.check("How do I ...", Channel.user, conversation_id=7)
    verdict.action                                  # allow | warn | block

Every verdict is written to the audit log with its reasons, allow included, so the log
shows that a text was judged and how. The guard is built on first use (or by `warm`,
on a background thread while the model loads): the embedded one costs about 0.7 s to
load and a few milliseconds a message after that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from psi.errors import ModelError, PsiError
from psi.safety.policy import judge
from psi.safety.types import Channel, Guard, Verdict

if TYPE_CHECKING:
    from psi.config import SafetySettings
    from psi.safety.audit import Audit


class Guards:
    def __init__(
        self,
        build: Callable[[], Guard | None],
        settings: SafetySettings,
        audit: Audit | None = None,
    ) -> None:
        self._build = build
        self.settings = settings
        self.audit = audit
        self._guard: Guard | None = None
        self._built = False
        self._lock = threading.Lock()
        self._failure: BaseException | None = None

    def guard(self) -> Guard | None:
        with self._lock:
            if not self._built:
                self._guard = self._build()
                self._built = True
            return self._guard

    def warm(self) -> threading.Thread:
        """Build the guard and score one text on a daemon thread; `check` waits for it
        through the lock, and a failure surfaces there, not here."""

        def run() -> None:
            try:
                guard = self.guard()
                # Only a guard in this process is worth a practice run; a server is not
                # sent a made-up message (nor, if remote, a ledger row for one).
                if guard is not None and guard.name == "embedded":
                    guard.assess("hello", Channel.user)
            except Exception as exc:  # reported by the first check that needs the guard
                self._failure = exc

        thread = threading.Thread(target=run, name="psi-guard-warm", daemon=True)
        thread.start()
        return thread

    def check(
        self,
        text: str,
        channel: Channel,
        *,
        conversation_id: int | None = None,
        prompt: str | None = None,
        record: bool = True,
    ) -> Verdict:
        """Judge `text` on `channel` (an answer with the `prompt` it answers) and audit it;
        with `record=False` the caller audits it (`Audit.verdict_in`), in the transaction
        that stores what was judged."""
        guard = self.guard()
        if guard is None:
            return Verdict(action="allow", channel=channel, reasons=("no guard configured",))
        try:
            assessment = guard.assess(text, channel, prompt=prompt)
        except PsiError as exc:
            # Fail closed: nothing goes on unjudged, and the person learns why.
            raise ModelError(
                f"The safety guard ({guard.name}) could not judge this {channel} text: "
                f"{exc.message}",
                hint=(exc.hint + " " if exc.hint else "")
                + "Nothing was lost. To use the offline guard meanwhile: "
                "`psi config set safety.guard embedded`.",
            ) from exc
        verdict = judge(assessment, self.settings)
        if self.audit is not None and record:
            self.audit.verdict(verdict, text, conversation_id=conversation_id)
        return verdict
