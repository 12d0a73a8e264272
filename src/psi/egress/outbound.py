"""A remote model's side of the door: what each request that leaves carries and costs.

    outbound = Outbound(purpose="chat", ledger=lambda: ledger, redactor=make_redactor)
    client = http_client(purpose=..., offline=False, timeout=60, outbound=outbound)
    with outbound.call(model="gpt-5") as call:
        sent = call.redact_messages(messages)      # placeholders for personal data
        ...                                        # the SDK sends `sent` through `client`
        restorer = call.restorer()                 # placeholders back in the reply
        call.charge(usage, cost_usd=0.003)

Every request that goes through a client built with an `Outbound` gets a ledger
row from the client's request hook: host, path, purpose, model, payload size and
SHA-256 (the payload itself only with `keep_payloads`), and the redactions made
for the call it belongs to. The hook sees the bytes as they leave, so retries
and redirects are each recorded, and nothing the SDK adds goes unseen.

`privacy` is the user's policy for this destination: "local-only" refuses every
request (the egress point says no, whatever a caller asked for), "redact"
replaces personal data before sending and restores it in the reply, "allow"
sends text as it is (and still records it).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import httpx2

from psi.errors import PrivacyRefusal

if TYPE_CHECKING:
    from psi.egress.ledger import Ledger
    from psi.llm.types import Message

Privacy = Literal["local-only", "redact", "allow"]


class Restoring(Protocol):
    flagged: list[str]

    def feed(self, chunk: str) -> str: ...

    def finish(self) -> str: ...


class Redacting(Protocol):
    """What psi.egress.redact.Redactor offers (a protocol so tests may pass their own)."""

    counts: Counter[str]

    def redact(self, text: str) -> str: ...

    def restorer(self) -> Restoring: ...

    def restore(self, text: str) -> str: ...


class _Verbatim:
    """The restorer of a call sent without redaction: text passes as it is."""

    flagged: list[str]

    def __init__(self) -> None:
        self.flagged = []

    def feed(self, chunk: str) -> str:
        return chunk

    def finish(self) -> str:
        return ""


@dataclass
class Call:
    """One model call through the door: its redactor (None under "allow") and the ledger
    rows of the requests it made."""

    model: str | None
    purpose: str
    redactor: Redacting | None
    ledger: Ledger | None
    ids: list[int] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)

    @property
    def redactions(self) -> dict[str, int]:
        return dict(self.redactor.counts) if self.redactor is not None else {}

    def redact(self, text: str) -> str:
        return text if self.redactor is None else self.redactor.redact(text)

    def redact_messages(self, messages: Sequence[Message]) -> list[Message]:
        """The messages as they may leave: content and tool-call arguments redacted."""
        if self.redactor is None:
            return list(messages)
        out = []
        for message in messages:
            calls = [
                c.model_copy(update={"arguments": self._redact_value(c.arguments)})
                for c in message.tool_calls
            ]
            out.append(
                message.model_copy(
                    update={"content": self.redactor.redact(message.content), "tool_calls": calls}
                )
            )
        return out

    def restorer(self) -> Restoring:
        return _Verbatim() if self.redactor is None else self.redactor.restorer()

    def restore(self, text: str) -> str:
        return text if self.redactor is None else self.redactor.restore(text)

    def restore_value(self, value: object) -> object:
        """Placeholders back in a tool call's arguments (strings at any depth)."""
        if self.redactor is None:
            return value
        return json.loads(self.restore(json.dumps(value, ensure_ascii=False)))

    def charge(self, *, tokens_in: int, tokens_out: int, cost_usd: float | None) -> None:
        if self.ledger is not None:
            self.ledger.charge(
                self.ids, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost_usd
            )

    def _redact_value(self, value: object) -> object:
        assert self.redactor is not None
        return json.loads(self.redactor.redact(json.dumps(value, ensure_ascii=False)))


_current: ContextVar[Call | None] = ContextVar("psi_egress_call", default=None)


class Outbound:
    """The door's settings for one remote destination (a model profile, an embedder)."""

    def __init__(
        self,
        *,
        purpose: str,
        privacy: Privacy = "allow",
        ledger: Callable[[], Ledger | None] | None = None,
        redactor: Callable[[], Redacting] | None = None,
        keep_payloads: bool = False,
        refusal_hint: str = "",
    ) -> None:
        self.purpose = purpose
        self.privacy = privacy
        self._ledger = ledger
        self._redactor = redactor
        self.keep_payloads = keep_payloads
        self.refusal_hint = refusal_hint
        self._opened: Ledger | None = None

    def ledger(self) -> Ledger | None:
        if self._opened is None and self._ledger is not None:
            self._opened = self._ledger()
        return self._opened

    def check(self) -> None:
        """Refuse under "local-only": nothing of this user's leaves for this destination."""
        if self.privacy == "local-only":
            raise PrivacyRefusal(
                f"Your privacy setting is local-only: psi sends nothing off this machine, "
                f"so {self.purpose} was not sent.",
                hint=self.refusal_hint
                or "Use a local model, or allow remote models with "
                "`psi config set routing.privacy redact` (personal data replaced) or allow.",
            )

    @contextmanager
    def call(self, *, model: str | None = None, purpose: str | None = None) -> Iterator[Call]:
        self.check()
        redactor = None
        if self.privacy == "redact":
            if self._redactor is None:
                raise PrivacyRefusal(
                    f"Privacy is set to redact, but no redactor is set up for {self.purpose}.",
                    hint="This is a bug in psi; use a local model meanwhile.",
                )
            redactor = self._redactor()
        call = Call(model, purpose or self.purpose, redactor, self.ledger())
        token = _current.set(call)
        try:
            yield call
        finally:
            _current.reset(token)

    def hook(self, request: httpx2.Request) -> None:
        """The HTTP client's request hook: refuse under local-only, else one ledger row."""
        self.check()
        ledger = self.ledger()
        if ledger is None:
            return
        try:
            payload = request.content
        except httpx2.RequestNotRead:
            payload = request.read()
        call = _current.get()
        url = request.url
        host = url.host if url.port is None else f"{url.host}:{url.port}"
        row = ledger.record(
            host=host,
            method=request.method,
            path=url.path,
            purpose=call.purpose if call is not None else self.purpose,
            model=call.model if call is not None else None,
            payload=payload,
            redactions=call.redactions if call is not None else {},
            keep_payload=self.keep_payloads,
        )
        if call is not None:
            call.ids.append(row)
