"""`psi bench pii`: how much personal data psi's redactor keeps from leaving, against
Presidio's defaults on the same blank spaCy pipeline.

Data: presidio-research's format, a JSON list of records with `full_text` and
`spans` (`entity_type`, `entity_value`, `start_position`, `end_position`).

Per method and per entity type:
- recall: share of gold spans whose every non-space character was redacted;
- precision: share of redactions that overlap any gold span (of any type, as the
  gold types and the methods' types are named differently);
- leak rate: share of gold values still present verbatim in the outgoing text;
- latency: milliseconds per 1,000 characters of each record (detection and
  replacement), p50 and p95 over records.

Gold types psi keeps by design (dates, cities; see psi.egress.detect.KEPT) are
reported as they are: low recall there is a choice, not a miss.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psi.benchmarks.stats import percentile
from psi.errors import UserError

# Targets from issue 5 (BENCHMARKS.md): leak rate per gold type, overall precision,
# p95 latency per 1,000 characters.
LEAK_TARGETS = {
    "EMAIL_ADDRESS": 0.01,
    "PHONE_NUMBER": 0.01,
    "CREDIT_CARD": 0.01,
    "IBAN_CODE": 0.01,
    "US_SSN": 0.01,
    "IP_ADDRESS": 0.01,
    "PERSON": 0.10,
    "STREET_ADDRESS": 0.10,
}
PRECISION_TARGET = 0.8
P95_TARGET_MS = 20.0

PSI = "psi"
BASELINE = "presidio-blank"
METHODS = (PSI, BASELINE)


@dataclass(frozen=True)
class Gold:
    start: int
    end: int
    entity_type: str
    value: str


@dataclass(frozen=True)
class Sample:
    text: str
    gold: tuple[Gold, ...]


@dataclass(frozen=True)
class Redaction:
    start: int
    end: int
    entity_type: str


@dataclass
class Tally:
    n: int = 0
    found: int = 0
    leaked: int = 0
    predicted: int = 0
    correct: int = 0

    def as_json(self) -> dict[str, float | int | None]:
        return {
            "recall": round(self.found / self.n, 4) if self.n else None,
            "precision": round(self.correct / self.predicted, 4) if self.predicted else None,
            "leak_rate": round(self.leaked / self.n, 4) if self.n else None,
            "n": self.n,
        }


@dataclass
class MethodResult:
    overall: Tally = field(default_factory=Tally)
    by_entity: dict[str, Tally] = field(default_factory=dict)
    ms_per_1k_chars: list[float] = field(default_factory=list)

    def entity(self, name: str) -> Tally:
        return self.by_entity.setdefault(name, Tally())

    def as_json(self) -> dict[str, Any]:
        times = self.ms_per_1k_chars
        return {
            "overall": self.overall.as_json(),
            "by_entity": {name: t.as_json() for name, t in sorted(self.by_entity.items())},
            "latency_ms_per_1k_chars": {
                "p50": round(percentile(times, 50), 3) if times else None,
                "p95": round(percentile(times, 95), 3) if times else None,
            },
        }


@dataclass(frozen=True)
class PiiResult:
    samples: int
    characters: int
    methods: dict[str, MethodResult]

    def as_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "characters": self.characters,
            "methods": {name: result.as_json() for name, result in self.methods.items()},
        }


def load_pii(path: Path) -> list[Sample]:
    """Records in presidio-research format; spans outside their text are a data error."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(
            f"Cannot read {path}: {exc}.", hint="Pass a presidio-research JSON file."
        ) from exc
    if not isinstance(records, list):
        raise UserError(f"{path} is not a JSON list of records.")
    samples = []
    for number, record in enumerate(records):
        try:
            text = record["full_text"]
            gold = tuple(
                Gold(
                    span["start_position"],
                    span["end_position"],
                    span["entity_type"],
                    text[span["start_position"] : span["end_position"]],
                )
                for span in record.get("spans") or ()
            )
        except (KeyError, TypeError) as exc:
            raise UserError(f"Record {number} of {path} lacks {exc}.") from exc
        if any(not 0 <= g.start < g.end <= len(text) for g in gold):
            raise UserError(f"Record {number} of {path} has a span outside its text.")
        samples.append(Sample(text, gold))
    return samples


@dataclass(frozen=True)
class Outcome:
    redacted: str
    redactions: list[Redaction]
    elapsed_ms: float  # producing the outgoing text, and nothing else


Method = Callable[[str], Outcome]


def psi_method() -> Method:
    """psi's Redactor, a new one per record (one per request, as the egress point does)."""
    from psi.egress import detect
    from psi.egress.redact import Redactor

    def run(text: str) -> Outcome:
        start = time.perf_counter()
        redacted = Redactor().redact(text)
        elapsed_ms = (time.perf_counter() - start) * 1000
        # The same findings again, untimed: the Redactor does not hand out its spans.
        found = [Redaction(f.start, f.end, f.entity_type) for f in detect.find(text)]
        return Outcome(redacted, found, elapsed_ms)

    return run


def baseline_method() -> Method:
    """Presidio's default recognizers on a blank spaCy pipeline, replaced by its anonymizer."""
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import RecognizerResult

    from psi.egress import detect

    analyzer = detect.presidio_blank()
    anonymizer = AnonymizerEngine()  # type: ignore[no-untyped-call]

    def run(text: str) -> Outcome:
        start = time.perf_counter()
        results = analyzer.analyze(text, language=detect.LANGUAGE)
        spans = [RecognizerResult(r.entity_type, r.start, r.end, r.score) for r in results]
        redacted = anonymizer.anonymize(text=text, analyzer_results=spans).text
        elapsed_ms = (time.perf_counter() - start) * 1000
        found = [Redaction(r.start, r.end, r.entity_type) for r in results]
        return Outcome(redacted, found, elapsed_ms)

    return run


# Texts of every kind psi redacts, written for the warm-up, so one-time loading is not
# counted as latency; no sample's words are seen before it is timed.
WARM_UP = (
    "Warm-up: Jane Doe, 12 Main Street, jane@example.com.",
    "Call Dr. Alan Turing on +44 20 7946 0958 or (212) 555-0143, fax 030 901820.",
    "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 078-05-1120.",
    "Server 192.168.10.24 and 2001:db8::ff00:42:8329; see https://example.org/u/jdoe?x=1.",
    "Ship to Apt 4B, 221 Baker Street, London NW1 6XE; or 1600 Pennsylvania Ave NW.",
    "Meet María José García and Li Wei at Rue de Rivoli 99, 75001 Paris on 3 May.",
)


def measure_pii(
    samples: list[Sample],
    *,
    methods: dict[str, Method] | None = None,
    on_sample: Callable[[str], None] | None = None,
) -> PiiResult:
    """Score each method on every sample, after warm-up calls that build its analyzer and
    load what its recognizers load on first use (phone metadata per region, checksum
    tables), none of them from the data."""
    methods = methods if methods is not None else {PSI: psi_method(), BASELINE: baseline_method()}
    results: dict[str, MethodResult] = {}
    for name, method in methods.items():
        for text in WARM_UP:
            method(text)
        result = results[name] = MethodResult()
        for sample in samples:
            outcome = method(sample.text)
            result.ms_per_1k_chars.append(outcome.elapsed_ms * 1000 / max(len(sample.text), 1))
            _score(result, sample, outcome.redacted, outcome.redactions)
            if on_sample is not None:
                on_sample(name)
    return PiiResult(
        samples=len(samples),
        characters=sum(len(s.text) for s in samples),
        methods=results,
    )


def _score(
    result: MethodResult, sample: Sample, redacted: str, redactions: Iterable[Redaction]
) -> None:
    covered = [False] * len(sample.text)
    for r in redactions:
        covered[r.start : r.end] = [True] * (r.end - r.start)
        correct = any(r.start < g.end and g.start < r.end for g in sample.gold)
        for tally in (result.overall, result.entity(r.entity_type)):
            tally.predicted += 1
            tally.correct += correct
    for g in sample.gold:
        found = all(covered[i] for i in range(g.start, g.end) if not sample.text[i].isspace())
        leaked = g.value in redacted
        for tally in (result.overall, result.entity(g.entity_type)):
            tally.n += 1
            tally.found += found
            tally.leaked += leaked
