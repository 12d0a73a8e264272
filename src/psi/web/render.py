"""Small pure helpers the templates use: safe markdown, times, and the model badge.

Markdown is rendered by markdown-it-py (CommonMark, plus tables and strikethrough) with
raw HTML off, so a reply's `<script>` arrives as text, and its link validation, which
refuses `javascript:` and the like.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

    from psi.config import Settings


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def markdown(text: str) -> Markup:
    """`text` as HTML, every tag in it escaped."""
    return Markup(_parser().render(text or ""))  # markdown-it escaped every tag


def when(moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time in the machine's local time, as people read it."""
    if moment is None:
        return ""
    return moment.astimezone().strftime(pattern)


@dataclass(frozen=True)
class Badge:
    """Which model answered: where it runs and whose weights, in a word each."""

    name: str
    where: str  # local | remote | psi
    weights: str  # open | closed | ""

    @property
    def text(self) -> str:
        if self.where == "psi":
            return "psi itself, no model"
        return f"{self.name} · {self.where} · {self.weights} weights"


def badge(settings: Settings, name: str | None) -> Badge:
    from psi.routing import is_remote

    if not name or name == "psi":
        return Badge("psi", "psi", "")
    profile = settings.profiles().get(name)
    if profile is None:
        return Badge(name, "unknown", "unknown")
    return Badge(
        name,
        "remote" if is_remote(profile) else "local",
        "open" if profile.open_weight else "closed",
    )
