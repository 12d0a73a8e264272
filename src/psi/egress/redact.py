"""Personal data out, placeholders in; placeholders out of the reply, personal data back.

Placeholders look like `[PERSON_1]`, `[EMAIL_ADDRESS_2]`: an upper-case entity type
and a number in square brackets. Models copy such tokens through intact (they
read as template slots, and keep the type as a hint of what stood there), and
ordinary prose never has them. Should the text itself contain a token of that
shape, its number is reserved and never issued, so restoring cannot turn the
user's own literal `[PERSON_1]` into a name.

One `Redactor` per conversation or request: the same value (case and spacing
aside) keeps the same placeholder across `redact` calls, so the model can tell
two people apart and a reply's placeholders map back. Restoring replaces only
placeholders this Redactor issued, exactly as issued. Anything that looks like
a placeholder but is not one it issued, or is mangled (`[PERSON 1]`,
`[person_1]`, `PERSON_1`), is left as it is and listed in `Restorer.flagged`:
a wrong name in an answer is worse than a visible slot.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable

_EXACT = re.compile(r"\[([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)_(\d+)\]")
# Things a model may make of a placeholder: other brackets, case, spaces, no brackets.
_LOOSE = re.compile(
    r"[\[({<]\s*[A-Za-z][A-Za-z0-9]*(?:[ _-][A-Za-z][A-Za-z0-9]*)*[ _-]?\s*\d+\s*[\])}>]"
    r"|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_\d+\b"
    r"|\[[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_\d+(?!\d)(?!\])"
)
# The longest a placeholder can be; a "[" further back than this is plain text.
_HOLD = 48
# What the tail of a chunk may be if a placeholder continues in the next chunk.
_PARTIAL = re.compile(r"[\[({<]\s*[A-Za-z0-9_ -]*\s*$|\b[A-Z][A-Z0-9_]*$")


class Redactor:
    """Replaces personal data with placeholders (see module doc).

    `known`: (value, ENTITY_TYPE) pairs from the user's memory, always redacted.
    `entities`: the types to find besides those (default `detect.DEFAULT_ENTITIES`).
    """

    def __init__(
        self, known: Iterable[tuple[str, str]] = (), *, entities: Collection[str] | None = None
    ) -> None:
        from psi.egress import detect

        self._known = detect.KnownValues(known)
        self._entities = frozenset(entities) if entities is not None else detect.DEFAULT_ENTITIES
        self.placeholders: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        self._by_value: dict[tuple[str, str], str] = {}
        self._issued: Counter[str] = Counter()
        self._reserved: set[str] = set()

    def redact(self, text: str) -> str:
        """`text` with each personal value replaced by its placeholder."""
        from psi.egress import detect

        for match in _EXACT.finditer(text):
            self._reserved.add(match.group())
        findings = detect.find(text, known=self._known, entities=self._entities)
        parts: list[str] = []
        at = 0
        for finding in findings:
            value = text[finding.start : finding.end]
            parts += [text[at : finding.start], self._placeholder(value, finding.entity_type)]
            self.counts[finding.entity_type] += 1
            at = finding.end
        parts.append(text[at:])
        return "".join(parts)

    def _placeholder(self, value: str, entity_type: str) -> str:
        key = (entity_type, " ".join(value.split()).casefold())
        placeholder = self._by_value.get(key)
        if placeholder is None:
            while True:
                self._issued[entity_type] += 1
                placeholder = f"[{entity_type}_{self._issued[entity_type]}]"
                if placeholder not in self._reserved:
                    break
            self._by_value[key] = placeholder
            self.placeholders[placeholder] = value
        return placeholder

    def restorer(self) -> Restorer:
        """A streaming restorer over this Redactor's placeholders (issued so far and later)."""
        return Restorer(self.placeholders, self._entities | set(self._known.types.values()))

    def restore(self, text: str) -> str:
        restorer = self.restorer()
        return restorer.feed(text) + restorer.finish()


class Restorer:
    """Puts original values back into a reply as it streams in.

    `feed` returns what is safe to show now, holding back a tail that may be the
    start of a placeholder split across chunks; `finish` returns the rest.
    """

    def __init__(self, placeholders: dict[str, str], types: Collection[str] = ()) -> None:
        self._placeholders = placeholders
        self._known_types = frozenset(types)
        self._pending = ""
        self.flagged: list[str] = []

    def feed(self, chunk: str) -> str:
        text = self._pending + chunk
        cut = _safe_end(text)
        self._pending = text[cut:]
        return self._restore(text[:cut])

    def finish(self) -> str:
        text, self._pending = self._pending, ""
        return self._restore(text)

    def _types(self) -> frozenset[str]:
        return self._known_types | {_type_of(token) for token in self._placeholders}

    def _restore(self, text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            token = match.group()
            value = self._placeholders.get(token)
            if value is not None:
                return value
            if _EXACT.fullmatch(token) or _type_of(token) in self._types():
                self.flagged.append(token)
            return token

        return _LOOSE.sub(swap, text) if text else text


def _type_of(token: str) -> str:
    """The entity type a placeholder-like token names: "[person 1]" -> "PERSON"."""
    return re.sub(r"[^A-Za-z]+", "_", token).strip("_").upper()


def _safe_end(text: str) -> int:
    """Where the part of `text` that cannot be the start of a placeholder ends."""
    tail_from = max(0, len(text) - _HOLD)
    partial = _PARTIAL.search(text, tail_from)
    return len(text) if partial is None else partial.start()
