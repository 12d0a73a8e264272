"""What the remote backends (openai, anthropic) share, so each keeps only its wire format.

RemoteChatModel owns everything that does not depend on the API spoken:

- the endpoint: the profile's `base_url`, or the vendor's own API when unset;
- the SDK client, built by the backend (`_connect`) on an HTTP client from
  psi.egress, so the offline check (and, later, redaction and the ledger) sees
  every request; the SDK retries 429 and 5xx with backoff (`max_retries`);
- the offline check before each request, ahead of the SDK's retry loop;
- the errors: every failure leaves as a psi error (ModelTimeout,
  EndpointError with a hint, OfflineRefusal), never as an SDK exception.

A backend supplies `_connect` (its SDK's client) and `_send`, which sends the
request inside `with self._api_call(options):`. `_generate` wraps it in one call
through the egress door (psi.egress.outbound) when the profile is remote: the
messages leave with personal data replaced (under privacy "redact"), the reply's
placeholders are restored as it streams, and the call's usage and cost go on its
ledger row. It names its SDK's
exception classes and its hints as class attributes, and says in
`_server_fault` which SDK errors carry the server's own complaint; both SDKs
come from one code generator, so that is all that differs.

The pure helpers below (`tool_arguments`, `one_line`, `request_timeout`,
`offline_refusal`) serve both wire formats.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, Self, TypedDict, TypeVar

import httpx2

from psi import egress
from psi.config import ModelProfile, Settings
from psi.errors import BadModelOutput, EndpointError, ModelError, ModelTimeout, OfflineRefusal
from psi.llm.base import ChatModel
from psi.llm.types import ChatOptions, Chunk, Message, ToolSpec, Usage


class _SDKClient(Protocol):
    def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_SDKClient)


class ClientOptions(TypedDict):
    """What psi gives both SDKs' client constructors."""

    base_url: str
    api_key: str
    http_client: httpx2.Client
    max_retries: int


@dataclass(frozen=True)
class ServerFault:
    """An error the server itself reported: with its HTTP status, or mid-stream (None)."""

    status: int | None
    detail: str


class RemoteChatModel(ChatModel, Generic[ClientT]):
    """A chat model behind an HTTP API, reached through the vendor's SDK."""

    default_base_url: ClassVar[str]
    # The SDK's root exception, and the two kinds psi tells apart by class.
    sdk_error: ClassVar[type[Exception]]
    sdk_timeout: ClassVar[type[Exception]]
    sdk_connection_error: ClassVar[type[Exception]]
    # Hints that depend on what usually sits at the endpoint: any server, or
    # one vendor's cloud. `unreachable_hint` may use {base_url} and {name}.
    timeout_hint: ClassVar[str]
    unreachable_hint: ClassVar[str]
    mid_answer_hint: ClassVar[str]

    def __init__(
        self,
        profile: ModelProfile,
        *,
        offline: bool = False,
        transport: httpx2.BaseTransport | None = None,
        max_retries: int = 2,
        outbound: egress.Outbound | None = None,
    ) -> None:
        super().__init__(profile)
        self.outbound = outbound
        # Placeholders the last reply held that psi never issued (mangled or invented):
        # left as they were, never restored to a guess.
        self.last_flagged: list[str] = []
        # An unset base_url means the vendor's own API, never an SDK's
        # environment variable ($OPENAI_BASE_URL, $ANTHROPIC_BASE_URL) or a
        # profile on disk: psi's config alone decides where requests go.
        self.base_url = profile.base_url or self.default_base_url
        url = httpx2.URL(self.base_url)
        # With the port when it is not the scheme's default: local servers differ by port.
        self.host = url.host if url.port is None else f"{url.host}:{url.port}"
        self.offline = offline
        self._purpose = f"a chat request (model profile '{self.name}')"
        self._client = self._connect(
            {
                "base_url": self.base_url,
                # Always explicit, so the SDK never goes looking for credentials
                # itself. Local servers want no key, but the SDKs insist on one.
                "api_key": profile.api_key() or "not-needed",
                "http_client": egress.http_client(
                    purpose=self._purpose,
                    offline=offline,
                    timeout=profile.timeout,
                    transport=transport,
                    outbound=outbound,
                ),
                "max_retries": max_retries,
            }
        )

    @classmethod
    def from_profile(cls, profile: ModelProfile, settings: Settings) -> Self:
        from psi.egress.door import outbound_for

        return cls(
            profile,
            offline=settings.offline,
            outbound=outbound_for(profile, settings, purpose=f"chat ({profile.name})"),
        )

    def _generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None,
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> Iterator[Chunk]:
        if self.outbound is None:
            yield from self._send(messages, tools=tools, json_schema=json_schema, options=options)
            return
        # Offline mode speaks first: it refuses every destination, the policy only this one.
        egress.check_destination(self.base_url, offline=self.offline, purpose=self._purpose)
        with self.outbound.call(model=self.model_id) as call:
            sent = call.redact_messages(messages)
            restorer = call.restorer()
            for chunk in self._send(sent, tools=tools, json_schema=json_schema, options=options):
                text = restorer.feed(chunk.text) if chunk.text else ""
                if chunk.finish_reason is not None or chunk.usage is not None:
                    text += restorer.finish()
                calls = [
                    c.model_copy(update={"arguments": call.restore_value(c.arguments)})
                    for c in chunk.tool_calls
                ]
                if chunk.usage is not None:
                    call.charge(
                        tokens_in=chunk.usage.prompt_tokens,
                        tokens_out=chunk.usage.completion_tokens,
                        cost_usd=self.cost(chunk.usage),
                    )
                yield Chunk(text, calls, chunk.usage, chunk.finish_reason)
            tail = restorer.finish()
            if tail:
                yield Chunk(tail)
            self.last_flagged = list(restorer.flagged)

    @abstractmethod
    def _send(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None,
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> Iterator[Chunk]:
        """Send the request in the backend's wire format; yield the reply as chunks."""

    def cost(self, usage: Usage) -> float | None:
        """US dollars for a call's tokens at the profile's prices (None when unpriced)."""
        price_in = getattr(self.profile, "price_in", None)
        price_out = getattr(self.profile, "price_out", None)
        if price_in is None or price_out is None:
            return None
        spent = usage.prompt_tokens * float(price_in) + usage.completion_tokens * float(price_out)
        return spent / 1e6

    def close(self) -> None:
        self._client.close()

    @abstractmethod
    def _connect(self, options: ClientOptions) -> ClientT:
        """The SDK's client."""

    @abstractmethod
    def _server_fault(self, exc: Exception) -> ServerFault | None:
        """The server's own complaint, if `exc` is the SDK's error that carries one."""

    @contextmanager
    def _api_call(self, options: ChatOptions) -> Iterator[None]:
        """Around one request: refuse it if offline; turn what the SDK raises into psi errors."""
        # The SDK would wrap the egress hook's refusal as a connection error
        # and retry it with backoff; refusing here first costs nothing.
        egress.check_destination(self.base_url, offline=self.offline, purpose=self._purpose)
        try:
            yield
        except (self.sdk_error, httpx2.HTTPError) as exc:
            refusal = offline_refusal(exc)
            if refusal is not None:
                # The egress hook said no; the SDK's wrapper adds nothing to that.
                raise refusal from None
            raise self._psi_error(exc, options) from exc

    def _psi_error(self, exc: Exception, options: ChatOptions) -> ModelError:
        where = f"(model profile '{self.name}')"
        # The SDKs' timeout error is a kind of connection error, so it goes first.
        if isinstance(exc, (self.sdk_timeout, httpx2.TimeoutException)):
            seconds = options.timeout or self.profile.timeout
            return ModelTimeout(
                f"{self.host} did not answer within {seconds:g} s {where}.",
                hint=self.timeout_hint,
            )
        if isinstance(exc, (self.sdk_connection_error, httpx2.TransportError)):
            return EndpointError(
                f"Cannot reach {self.host} {where}.",
                host=self.host,
                hint=self.unreachable_hint.format(base_url=self.base_url, name=self.name),
            )
        fault = self._server_fault(exc)
        if fault is None:
            return EndpointError(f"Talking to {self.host} failed {where}: {exc}", host=self.host)
        if fault.status is None:
            return EndpointError(
                f"{self.host} reported an error mid-answer {where}: {fault.detail}",
                host=self.host,
                hint=self.mid_answer_hint,
            )
        return EndpointError(
            f"{self.host} answered HTTP {fault.status} {where}: {fault.detail}",
            host=self.host,
            status=fault.status,
            hint=self._status_hint(fault.status),
        )

    def _status_hint(self, status: int) -> str:
        if status in (401, 403):
            if self.profile.api_key_env:
                return f"Check that ${self.profile.api_key_env} holds a valid key for {self.host}."
            return (
                f"The server wants an API key: set api_key_env under [models.{self.name}] "
                "to the name of the environment variable that holds it."
            )
        if status == 404:
            return f"Check the model id '{self.model_id}' and the base_url {self.base_url}."
        if status == 429:
            return "Rate limited even after retries: wait a little, or pick another model."
        if status >= 500:
            return "The server failed; try again later, or pick another model with --model."
        return "The server rejected the request; the message above says why."


# -- helpers for the wire formats (pure) ---------------------------------------


def request_timeout(seconds: float) -> httpx2.Timeout:
    # Connecting should fail fast even when a long answer is allowed.
    return httpx2.Timeout(seconds, connect=min(seconds, 10.0))


def tool_arguments(text: str, *, model: str, tool: str) -> dict[str, Any]:
    """A tool call's arguments from the JSON the model streamed ({} for none at all)."""
    if not text.strip():
        return {}
    try:
        arguments = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadModelOutput(
            f"Model '{model}' called tool '{tool}' with arguments that are not "
            f"JSON ({exc.msg}): {text[:200]}",
            hint="Raise max_tokens if the answer was cut short, or try a larger model.",
        ) from None
    if not isinstance(arguments, dict):
        raise BadModelOutput(
            f"Model '{model}' called tool '{tool}' with arguments that are not "
            f"a JSON object: {text[:200]}",
            hint="A larger model follows tool schemas better; pick one with --model.",
        )
    return arguments


def one_line(text: str, limit: int = 300) -> str:
    """`text` with its whitespace collapsed and cut to `limit` characters, for a message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def offline_refusal(exc: BaseException) -> OfflineRefusal | None:
    """The egress hook's refusal, if the SDK wrapped one into its own error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OfflineRefusal):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
