"""Generation speed: psi's `ask` path against raw llama-cpp-python on one loaded model.

Both sides drive the very same `llama_cpp.Llama` object with the same messages
(psi's system message and the user's prompt), greedy decoding, one seed and
one token budget, so they produce the same tokens. What differs is psi's own
work around the model: checking the message, fitting the context (which
tokenizes it), storing the question and the answer in a database, and the
stream wrapper that counts, times out and cancels.

- raw: `llama.create_chat_completion(..., stream=True)`, text deltas counted.
- psi: `ChatService.send(...)` iterated as `psi ask` does, on a throwaway
  PSI_HOME, a new conversation each round as a fresh `psi ask` starts one.

Rounds alternate raw, psi, raw, psi... so load from other processes falls on
both sides alike. The model's cache is reset before every round, so each one
evaluates the whole prompt as a fresh `psi ask` process must; one untimed
generation first pages the weights in, so the first raw round is not cold.

tokens/s is the decode rate: n tokens span n - 1 gaps from the first token to
the last, and time before the first token (prompt evaluation) belongs to
ttft, not to the rate. ttft runs from the call (`send()` for psi) to the first
text. Left out: loading the model (once, before any round), process start-up
(see `startup`), and writing the answer to a terminal.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from psi.agent.chat import ChatService
from psi.agent.inputs import check_message
from psi.config import Backend, Settings
from psi.errors import InputError
from psi.llm.types import ChatOptions, Message

DEFAULT_PROMPT = "Tell me a long story about a lighthouse keeper and a storm."
WARM_UP_TOKENS = 8


@dataclass(frozen=True)
class Sample:
    """One timed generation. Times in seconds from the call."""

    tokens: int
    first_s: float
    last_s: float
    total_s: float
    text: str

    @property
    def tokens_per_s(self) -> float:
        gaps = self.tokens - 1
        span = self.last_s - self.first_s
        return gaps / span if gaps > 0 and span > 0 else 0.0


@dataclass(frozen=True)
class GenerateResult:
    profile: str
    model_file: str
    n_threads: int
    max_tokens: int
    prompt: str
    raw: list[Sample] = field(default_factory=list)
    psi: list[Sample] = field(default_factory=list)

    @property
    def raw_tokens_per_s(self) -> float:
        return median([s.tokens_per_s for s in self.raw])

    @property
    def psi_tokens_per_s(self) -> float:
        return median([s.tokens_per_s for s in self.psi])

    @property
    def ratio(self) -> float:
        return self.psi_tokens_per_s / self.raw_tokens_per_s if self.raw_tokens_per_s else 0.0

    @property
    def ratio_paired(self) -> float:
        """The median of each round's psi/raw: steadier when the machine's load drifts."""
        pairs = [
            p.tokens_per_s / r.tokens_per_s
            for r, p in zip(self.raw, self.psi, strict=True)
            if r.tokens_per_s
        ]
        return median(pairs) if pairs else 0.0

    @property
    def ttft_s(self) -> float:
        return median([s.first_s for s in self.psi])

    @property
    def raw_ttft_s(self) -> float:
        return median([s.first_s for s in self.raw])

    @property
    def same_output(self) -> bool:
        """Whether every round of both sides produced the same text (it should, greedily)."""
        return len({s.text for s in [*self.raw, *self.psi]}) == 1

    def as_json(self) -> dict[str, Any]:
        return {
            "psi_tokens_per_s": round(self.psi_tokens_per_s, 2),
            "raw_tokens_per_s": round(self.raw_tokens_per_s, 2),
            "ratio": round(self.ratio, 4),
            "ratio_paired": round(self.ratio_paired, 4),
            "ttft_s": round(self.ttft_s, 4),
            "raw_ttft_s": round(self.raw_ttft_s, 4),
            "psi_total_s": round(median([s.total_s for s in self.psi]), 4),
            "raw_total_s": round(median([s.total_s for s in self.raw]), 4),
            "completion_tokens": median([s.tokens for s in self.psi]),
            "same_output": self.same_output,
            "rounds": len(self.psi),
            "max_tokens": self.max_tokens,
            "profile": self.profile,
            "model_file": self.model_file,
            "n_threads": self.n_threads,
            "prompt": self.prompt,
        }


def measure_generate(
    settings: Settings,
    *,
    profile: str = "local",
    rounds: int = 5,
    max_tokens: int = 128,
    prompt: str = DEFAULT_PROMPT,
    seed: int = 0,
    on_round: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Time `rounds` raw and `rounds` psi generations, alternating; `on_round(side)` after each.

    `settings` supplies the model profile; the database is a temporary one,
    whatever `settings` says, so benchmarking never writes to real history.
    """
    chosen = settings.profile(profile)
    if chosen.backend is not Backend.llamacpp:
        raise InputError(
            f"Model profile '{chosen.name}' uses the {chosen.backend.value} backend; "
            "this benchmark compares psi with llama-cpp-python, so it needs a llamacpp profile.",
            hint="Pass --model with a llamacpp profile (`psi models list` shows them).",
        )
    prompt = check_message(prompt, max_chars=settings.max_message_chars)
    from psi.llm.llamacpp import LlamaCppModel

    with tempfile.TemporaryDirectory(prefix="psi-bench-") as home:
        scratch = settings.model_copy(update={"home": Path(home), "database_url": None})
        service = ChatService.open(scratch, model=profile)
        try:
            model = service.model
            assert isinstance(model, LlamaCppModel)
            llama = model.llama
            # What psi sends for a first message: fit_history keeps both when nothing came before.
            messages = [
                {"role": m.role, "content": m.content}
                for m in (service.system_message(), Message.user(prompt))
            ]
            _drain(_raw_pieces(llama, messages, max_tokens=WARM_UP_TOKENS, seed=seed))
            result = GenerateResult(
                profile=chosen.name,
                model_file=str(model.model_path),
                n_threads=model.n_threads,
                max_tokens=max_tokens,
                prompt=prompt,
            )
            options = ChatOptions(max_tokens=max_tokens, temperature=0.0, seed=seed)
            for _ in range(rounds):
                # Otherwise the prompt would come from the cache the last round left,
                # which no fresh `psi ask` process has.
                llama.reset()
                start = time.perf_counter()
                pieces = _raw_pieces(llama, messages, max_tokens=max_tokens, seed=seed)
                result.raw.append(_timed(pieces, start))
                if on_round:
                    on_round("raw")

                llama.reset()
                service.new_conversation()
                start = time.perf_counter()
                turn = service.send(prompt, options=options)
                result.psi.append(_timed(iter(turn), start))
                if on_round:
                    on_round("psi")
        finally:
            service.close()
    return result


def _raw_pieces(
    llama: Any, messages: list[dict[str, str]], *, max_tokens: int, seed: int
) -> Iterator[str]:
    parts = llama.create_chat_completion(
        messages=messages, stream=True, max_tokens=max_tokens, temperature=0.0, seed=seed
    )
    try:
        for part in parts:
            text = part["choices"][0]["delta"].get("content")
            if text:
                yield text
    finally:
        parts.close()


def _timed(pieces: Iterator[str], start: float) -> Sample:
    first = last = 0.0
    parts: list[str] = []
    for piece in pieces:
        last = time.perf_counter() - start
        if not parts:
            first = last
        parts.append(piece)
    # total_s includes what comes after the last token: for psi, storing the answer.
    total = time.perf_counter() - start
    return Sample(tokens=len(parts), first_s=first, last_s=last, total_s=total, text="".join(parts))


def _drain(pieces: Iterator[str]) -> None:
    for _ in pieces:
        pass
