"""Reading a submitted form: each field checked with a message that names it, so bad input
becomes a sentence on the page rather than a 422 or a traceback."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from psi.errors import InputError

MAX_ID = 2**31 - 1


class Fields:
    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.items = items
        self.values: dict[str, Any] = dict(items)

    def text(self, name: str, *, limit: int = 2000, required: bool = False) -> str:
        value = self.values.get(name)
        text = value.strip() if isinstance(value, str) else ""
        if required and not text:
            raise InputError(f"Fill in {name.replace('_', ' ')}.")
        if len(text) > limit:
            label = name.replace("_", " ")
            raise InputError(f"{label} is too long (at most {limit:,} characters).")
        return text

    def all(self, name: str) -> list[str]:
        return [v.strip() for k, v in self.items if k == name and isinstance(v, str)]

    def flag(self, name: str) -> bool:
        return self.text(name) in ("on", "true", "1", "yes")

    def number(self, name: str, *, what: str | None = None) -> float | None:
        from psi.web.base import number

        raw = self.text(name, limit=50)
        return number(raw, what or name.replace("_", " ")) if raw else None

    def day(self, name: str, *, what: str | None = None) -> date | None:
        raw = self.text(name, limit=20)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            label = what or name.replace("_", " ")
            raise InputError(f"{label} must be a date like 2027-06-01, not {raw!r}.") from None

    def optional_id(self, name: str) -> int | None:
        raw = self.text(name, limit=20)
        if not raw:
            return None
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            raise InputError(f"{raw!r} is not a {name} id.")
        return int(raw)

    def upload(self, name: str) -> UploadFile | None:
        value = self.values.get(name)
        return value if isinstance(value, UploadFile) and value.filename else None


async def fields(request: Request) -> Fields:
    """The request's form, urlencoded or multipart; empty when there is none."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return Fields([])
    form = await request.form()
    return Fields(list(form.multi_items()))
