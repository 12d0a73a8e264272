"""The `openai` embedder: any server that speaks OpenAI's `/v1/embeddings`.

OpenAI itself, Ollama, vLLM, llama.cpp's server, LM Studio and others: the
`[embedder]` settings name the endpoint (`base_url`, default OpenAI's API),
the model id and the environment variable of the key. Requests go through
the official SDK on an HTTP client from psi.egress, so offline mode and the
egress ledger see each one; the SDK retries 429 and 5xx with backoff, and
every failure leaves as a psi error naming the host (EndpointError with the
HTTP status, ModelTimeout, OfflineRefusal), never as an SDK exception.

`dim` asks the server for shorter vectors (the `dimensions` field, which
OpenAI's text-embedding-3 models honour). Without it the size comes from a
table of OpenAI's models, or else from one probe request when the embedder
is built. Vectors come back as floats (not base64, which not every server
speaks) and are normalised here, since not every server normalises them.

Left out: token arrays as input, per-request `user` ids, and counting tokens
against the model's input limit (the server's error says when a text is too long).
"""

from __future__ import annotations

import contextlib
from typing import Self

import httpx2
import numpy as np
import openai
from openai.types import CreateEmbeddingResponse

from psi import egress
from psi.config import EmbedderSettings, Settings
from psi.embed.base import Embedder, Vectors
from psi.errors import BadModelOutput, ConfigError, EndpointError, ModelError, ModelTimeout
from psi.llm.openai_chat import _server_message
from psi.llm.remote import offline_refusal

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# The sizes of OpenAI's own models, so building one costs no request.
KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class OpenAIEmbedder(Embedder):
    backend = "openai"

    def __init__(
        self,
        config: EmbedderSettings,
        *,
        offline: bool = False,
        transport: httpx2.BaseTransport | None = None,
        max_retries: int = 2,
        outbound: egress.Outbound | None = None,
    ) -> None:
        if not config.model:
            raise ConfigError(
                "The openai embedder needs a model id.",
                hint="Set one, e.g. `psi config set embedder.model text-embedding-3-small` "
                "(or the name your server gives its embedding model).",
            )
        self.model_id = config.model
        self.batch_size = config.batch_size
        self.timeout = config.timeout
        # Like the chat backends: psi's config alone decides where requests go,
        # never $OPENAI_BASE_URL.
        self.base_url = config.base_url or DEFAULT_BASE_URL
        url = httpx2.URL(self.base_url)
        # With the port when it is not the scheme's default: local servers differ by port.
        self.host = url.host if url.port is None else f"{url.host}:{url.port}"
        self.is_local = egress.is_loopback(url.host)
        self.offline = offline
        # A remote embedder's door: the ledger row per request, the privacy policy, and
        # the texts redacted before they leave (under "redact").
        self.outbound = None if self.is_local else outbound
        self._dimensions = config.dim
        self.name = f"openai:{self.model_id}" + (f"@{config.dim}" if config.dim else "")
        self._purpose = f"texts to embed (model {self.model_id})"
        self._client = openai.OpenAI(
            base_url=self.base_url,
            # Always explicit, so the SDK never looks for credentials itself;
            # local servers want no key, but the SDK insists on one.
            api_key=config.api_key() or "not-needed",
            http_client=egress.http_client(
                purpose=self._purpose,
                offline=offline,
                timeout=config.timeout,
                transport=transport,
                outbound=self.outbound,
            ),
            max_retries=max_retries,
        )
        known = config.dim or KNOWN_DIMS.get(self.model_id)
        self.dim = known if known is not None else self._request(["dimension probe"]).shape[1]

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        from psi.egress.door import door

        purpose = f"texts to embed ({settings.embedder.model})"
        return cls(settings.embedder, offline=settings.offline, outbound=door(settings, purpose))

    def close(self) -> None:
        self._client.close()

    def _embed_batch(self, texts: list[str]) -> Vectors:
        vectors = self._request(texts)
        if vectors.shape[1] != self.dim:
            raise BadModelOutput(
                f"{self.host} returned {vectors.shape[1]}-dimensional vectors from "
                f"{self.model_id}; psi expected {self.dim}.",
                hint="Set embedder.dim to the model's size, or unset it.",
            )
        return vectors

    def _request(self, texts: list[str]) -> Vectors:
        """One request to /embeddings: a (len(texts), server's dim) array, in input order."""
        # The egress hook would refuse too, but the SDK would retry that with backoff first.
        egress.check_destination(self.base_url, offline=self.offline, purpose=self._purpose)
        try:
            with contextlib.ExitStack() as stack:
                if self.outbound is not None:
                    call = stack.enter_context(self.outbound.call(model=self.model_id))
                    texts = [call.redact(text) for text in texts]
                response = self._client.embeddings.create(
                    model=self.model_id,
                    # OpenAI rejects an empty string; a space embeds as near-nothing.
                    input=[text or " " for text in texts],
                    encoding_format="float",
                    dimensions=self._dimensions or openai.omit,
                )
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            refusal = offline_refusal(exc)
            if refusal is not None:
                raise refusal from None
            raise self._psi_error(exc) from exc
        return self._vectors(response, len(texts))

    def _vectors(self, response: CreateEmbeddingResponse, count: int) -> Vectors:
        data = sorted(response.data or [], key=lambda item: item.index)
        try:
            vectors = np.array([item.embedding for item in data], dtype=np.float32)
        except (TypeError, ValueError):
            vectors = np.empty((0,), dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != count or vectors.shape[1] == 0:
            raise BadModelOutput(
                f"{self.host} did not return one vector per text from {self.model_id} "
                f"({len(data)} embeddings for {count} texts, or of unequal length).",
                hint="Check that the model is an embedding model and the server speaks "
                "OpenAI's /v1/embeddings.",
            )
        return vectors

    def _psi_error(self, exc: Exception) -> ModelError:
        where = f"(embedder {self.model_id})"
        # The SDK's timeout error is a kind of connection error, so it goes first.
        if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
            return ModelTimeout(
                f"{self.host} did not answer within {self.timeout:g} s {where}.",
                hint="Raise embedder.timeout, lower embedder.batch_size, "
                "or check that the server is not overloaded.",
            )
        if isinstance(exc, (openai.APIConnectionError, httpx2.TransportError)):
            return EndpointError(
                f"Cannot reach {self.host} {where}.",
                host=self.host,
                hint=f"Check that the server at {self.base_url} is running and reachable, "
                "or fix embedder.base_url in config.toml.",
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _server_message(exc.body) or exc.message
            return EndpointError(
                f"{self.host} answered HTTP {status} {where}: {detail}",
                host=self.host,
                status=status,
                hint=self._status_hint(status),
            )
        return EndpointError(f"Talking to {self.host} failed {where}: {exc}", host=self.host)

    def _status_hint(self, status: int) -> str:
        if status in (401, 403):
            return (
                "The server wants an API key: set embedder.api_key_env to the name of the "
                "environment variable that holds it, and check the key."
            )
        if status == 404:
            return (
                f"Check the model id '{self.model_id}' and the base_url {self.base_url}; "
                "the server must serve an embedding model."
            )
        if status == 429:
            return "Rate limited even after retries: wait a little, or lower embedder.batch_size."
        if status >= 500:
            return "The server failed; try again later, or switch embedder.backend."
        return "The server rejected the request; the message above says why."
