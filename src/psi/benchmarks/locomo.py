"""Reading LoCoMo-format files (snap-research/LoCoMo) into plain samples, defects counted.

A file is a list of samples: `sample_id`, `conversation` (`speaker_a`,
`speaker_b`, `session_N` = list of turns `{speaker, dia_id, text,
[blip_caption, img_url, query]}`, `session_N_date_time` like "1:56 pm on 8 May,
2023") and `qa` (`question`, `evidence` = dia_ids, `category` 1-5).

Nothing here knows one particular file. What real files get wrong is repaired
when the repair is unambiguous and dropped otherwise, and every repair or drop
is counted in `Defects`, so a benchmark can say what it left out:

- a date key with no session is ignored; a session without a readable date is
  placed an hour after the session before it;
- an evidence string holding several ids ("D8:6; D9:17") is split; a
  malformed id whose numbers are clear ("D:11:26", "D30:05") is rewritten
  as D<session>:<turn>; an id that is still unreadable ("D") or names no turn
  of the conversation is dropped; a question left with no evidence is skipped;
- an image turn is indexed as its text plus "[shares a photo: <caption>]".
  Its `query` field (the search that found the image) often holds the answer
  itself and is never read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psi.errors import InputError

_SESSION = re.compile(r"session_(\d+)")
_SESSION_DATE = re.compile(r"session_(\d+)_date_time")
# D<session>:<turn>, tolerating a stray colon after the D and leading zeros.
_DIA_ID = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)", re.IGNORECASE)
# Between ids: a semicolon or comma, or spaces before the next "D".
_ID_SEPARATORS = re.compile(r"\s*[;,]\s*|\s+(?=[Dd])")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
# Fills the fields a date string leaves out, instead of today's date.
_DATE_DEFAULT = datetime(2000, 1, 1)
UNDATED_GAP = timedelta(hours=1)


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str  # what gets indexed: the words said, plus the photo's caption if any


@dataclass(frozen=True)
class Session:
    number: int
    at: datetime  # timezone-aware (UTC): the file's times carry no zone
    when: str  # the date as the file writes it
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Question:
    question: str
    category: int
    evidence: tuple[str, ...]  # dia_ids of turns in the sample, deduplicated, in file order


@dataclass(frozen=True)
class Sample:
    sample_id: str
    speakers: tuple[str, ...]
    sessions: tuple[Session, ...]
    questions: tuple[Question, ...]

    @property
    def turns(self) -> list[Turn]:
        return [turn for session in self.sessions for turn in session.turns]

    @property
    def last_at(self) -> datetime:
        return max(session.at for session in self.sessions)


@dataclass
class Defects:
    """What loading repaired or left out, summed over the samples read."""

    dates_without_session: int = 0
    sessions_without_date: int = 0
    empty_turns: int = 0
    evidence_split: int = 0  # strings that held several ids
    evidence_normalised: int = 0  # ids rewritten to D<session>:<turn>
    evidence_dropped: int = 0  # ids unreadable or naming no turn
    questions_skipped: int = 0  # no usable evidence (or no question text)
    dropped_ids: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "dates_without_session": self.dates_without_session,
            "sessions_without_date": self.sessions_without_date,
            "empty_turns": self.empty_turns,
            "evidence_split": self.evidence_split,
            "evidence_normalised": self.evidence_normalised,
            "evidence_dropped": self.evidence_dropped,
            "questions_skipped": self.questions_skipped,
            "dropped_ids": self.dropped_ids,
        }


def load_locomo(path: Path, *, only: set[str] | None = None) -> tuple[list[Sample], Defects]:
    """The samples of a LoCoMo-format file (those named in `only`, if given), and its defects."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            f"Cannot read {path}: {exc.strerror}.", hint="Pass a LoCoMo-format JSON file to --data."
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path} is not JSON: {exc}.", hint="Pass a LoCoMo-format JSON file to --data."
        ) from None
    if not isinstance(raw, list):
        raise InputError(
            f"{path} holds a JSON {type(raw).__name__}, not a list of LoCoMo samples.",
            hint="Pass a LoCoMo-format file: a list of {sample_id, conversation, qa}.",
        )
    defects = Defects()
    samples = []
    for index, item in enumerate(raw):
        sample = parse_sample(item, index=index, defects=defects, only=only)
        if sample is not None:
            samples.append(sample)
    if only is not None:
        missing = only - {sample.sample_id for sample in samples}
        if missing:
            raise InputError(
                f"No sample {', '.join(sorted(missing))} in {path}.",
                hint="--samples takes sample_ids from the file, separated by commas.",
            )
    return samples, defects


def parse_sample(
    item: Any, *, index: int, defects: Defects, only: set[str] | None = None
) -> Sample | None:
    if not isinstance(item, dict) or not isinstance(item.get("conversation"), dict):
        raise InputError(
            f"Sample {index} has no `conversation` object.",
            hint="Each LoCoMo sample needs `conversation` (sessions) and `qa` (questions).",
        )
    sample_id = str(item.get("sample_id") or f"sample-{index}")
    if only is not None and sample_id not in only:
        return None
    sessions = parse_sessions(item["conversation"], defects)
    if not sessions:
        raise InputError(
            f"Sample {sample_id} has no sessions.",
            hint="A LoCoMo conversation holds its turns under session_1, session_2, ...",
        )
    known = {turn.dia_id for session in sessions for turn in session.turns}
    questions = []
    for entry in item.get("qa") or []:
        question = parse_question(entry, known, defects)
        if question is None:
            defects.questions_skipped += 1
        else:
            questions.append(question)
    conversation = item["conversation"]
    named = [conversation.get(key) for key in ("speaker_a", "speaker_b")]
    speakers = [name for name in named if isinstance(name, str) and name]
    for session in sessions:
        for turn in session.turns:
            if turn.speaker not in speakers:
                speakers.append(turn.speaker)
    return Sample(
        sample_id=sample_id,
        speakers=tuple(speakers),
        sessions=tuple(sessions),
        questions=tuple(questions),
    )


def parse_sessions(conversation: dict[str, Any], defects: Defects) -> list[Session]:
    """Sessions in number order, each dated by its `session_N_date_time`."""
    bodies: dict[int, list[Any]] = {}
    dates: dict[int, str] = {}
    for key, value in conversation.items():
        if (match := _SESSION.fullmatch(key)) and isinstance(value, list):
            bodies[int(match.group(1))] = value
        elif (match := _SESSION_DATE.fullmatch(key)) and isinstance(value, str):
            dates[int(match.group(1))] = value
    defects.dates_without_session += len(dates.keys() - bodies.keys())
    parsed = {number: parse_when(dates.get(number, "")) for number in bodies}
    known = [at for at in parsed.values() if at is not None]
    # An undated first session goes a day before the first dated one.
    previous = (min(known) if known else _DATE_DEFAULT.replace(tzinfo=UTC)) - timedelta(days=1)
    sessions = []
    for number in sorted(bodies):
        at = parsed[number]
        if at is None:
            defects.sessions_without_date += 1
            at = previous + UNDATED_GAP
        turns = tuple(parse_turns(number, bodies[number], defects))
        sessions.append(Session(number=number, at=at, when=dates.get(number, ""), turns=turns))
        previous = at
    return sessions


def parse_when(text: str) -> datetime | None:
    """ "1:56 pm on 8 May, 2023" as a UTC datetime, or None when it holds no date."""
    from dateutil import parser  # type: ignore[import-untyped]

    if not text.strip():
        return None
    try:
        parsed: datetime = parser.parse(text, default=_DATE_DEFAULT, fuzzy=True)
    except (ValueError, OverflowError):
        return None
    return parsed.replace(tzinfo=UTC)


def parse_turns(number: int, body: list[Any], defects: Defects) -> list[Turn]:
    turns = []
    for position, raw in enumerate(body, start=1):
        if not isinstance(raw, dict):
            defects.empty_turns += 1
            continue
        said = raw.get("text")
        text = said if isinstance(said, str) else ""
        caption = raw.get("blip_caption")
        if isinstance(caption, str) and caption.strip():
            text = f"{text} [shares a photo: {caption.strip()}]".strip()
        if not text.strip():
            defects.empty_turns += 1
            continue
        dia_id = normalise_id(str(raw.get("dia_id") or "")) or f"D{number}:{position}"
        turns.append(Turn(dia_id=dia_id, speaker=str(raw.get("speaker") or "unknown"), text=text))
    return turns


def normalise_id(text: str) -> str | None:
    """ "D<session>:<turn>" from a dia_id as written ("D:11:26", "D30:05"), or None."""
    match = _DIA_ID.fullmatch(text.strip())
    return f"D{int(match.group(1))}:{int(match.group(2))}" if match else None


def parse_question(entry: Any, known: set[str], defects: Defects) -> Question | None:
    """The question with its usable evidence; None when it has no text or no evidence left."""
    if not isinstance(entry, dict):
        return None
    text = entry.get("question")
    try:
        category = int(entry["category"])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(text, str) or not text.strip():
        return None
    evidence = parse_evidence(entry.get("evidence"), known, defects)
    if not evidence:
        return None
    return Question(question=text.strip(), category=category, evidence=evidence)


def parse_evidence(raw: Any, known: set[str], defects: Defects) -> tuple[str, ...]:
    strings = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    found: list[str] = []
    for string in strings:
        pieces = [piece for piece in _ID_SEPARATORS.split(str(string).strip()) if piece]
        if len(pieces) > 1:
            defects.evidence_split += 1
        for piece in pieces:
            dia_id = normalise_id(piece)
            if dia_id is None or dia_id not in known:
                defects.evidence_dropped += 1
                defects.dropped_ids.append(piece)
                continue
            if dia_id != piece:
                defects.evidence_normalised += 1
            if dia_id not in found:
                found.append(dia_id)
    return tuple(found)
