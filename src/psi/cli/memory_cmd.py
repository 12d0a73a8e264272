"""`psi memory list|search|show|forget|export|import|reindex`: what psi remembers, yours to see
and to change."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from psi.cli.output import err, friendly, out

if TYPE_CHECKING:
    from psi.memory.facts import Fact, Facts
    from psi.memory.service import Memory

app = typer.Typer(help="What psi remembers, and your control over it.", no_args_is_help=True)


def _memory(*, dense: bool = False) -> Memory:
    from psi.agent.chat import load_embedder
    from psi.config import load_settings
    from psi.memory.service import Memory
    from psi.store.db import open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    memory = Memory(
        store, user_id=store.ensure_user(settings.user), embedder=lambda: load_embedder(settings)
    )
    memory.index_pending(embed=False)
    if dense:
        with err.status("Loading the embedding model…", spinner="dots"):
            memory.embedder()
        _embed_with_progress(memory)
    return memory


def _embed_with_progress(memory: Memory) -> int:
    from rich.progress import Progress

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("Embedding memories", total=None)
        return memory.embed_pending(
            lambda done, total: bar.update(task, completed=done, total=total)
        )


def _fact_line(fact: Fact) -> str:
    since = f"{fact.valid_from.astimezone():%Y-%m-%d}"
    until = f" until {fact.valid_to.astimezone():%Y-%m-%d}" if fact.valid_to else ""
    return (
        f"[bold]{'f' + str(fact.id):>6}[/] [dim]{since}{until}[/] [magenta]{fact.category}[/]: "
        f"{escape(fact.statement)}"
    )


def _line(episode_id: int, when: str, speaker: str, text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    short = flat if len(flat) <= width else flat[: width - 1] + "…"
    return f"[bold]{episode_id:>6}[/] [dim]{when}[/] [cyan]{escape(speaker)}[/]: {escape(short)}"


@app.command("list")
@friendly
def list_(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many to show."),
) -> None:
    """Newest memories first."""
    memory = _memory()
    facts = _facts(memory).current()
    episodes = memory.episodes.recent(limit=limit)
    if not episodes and not facts:
        out.print("Nothing remembered yet. Chat with `psi chat`, or `psi memory import FILE`.")
        return
    if facts:
        out.print("[bold]Facts[/]")
        for fact in facts[:limit]:
            out.print(_fact_line(fact))
        out.print("[bold]Said[/]")
    for e in episodes:
        out.print(_line(e.id, f"{e.at.astimezone():%Y-%m-%d %H:%M}", e.speaker, e.text))


@app.command("search")
@friendly
def search(
    query: list[str] = typer.Argument(..., help="What to look for."),
    limit: int = typer.Option(10, "--limit", "-n", min=1),
    keyword_only: bool = typer.Option(
        False, "--keyword-only", help="Skip loading the embedding model (faster, less recall)."
    ),
) -> None:
    """Search memory the way psi recalls it before answering."""
    memory = _memory(dense=not keyword_only)
    text = " ".join(query)
    facts = _facts(memory).search(text, limit=limit)
    found = memory.recall(text, limit=limit)
    if not found and not facts:
        out.print("No memory matches that.")
        return
    for fact in facts:
        out.print(_fact_line(fact))
    for item in found:
        e = item.episode
        out.print(_line(e.id, f"{e.at.astimezone():%Y-%m-%d %H:%M}", e.speaker, e.text))


@app.command("show")
@friendly
def show(memory_id: str = typer.Argument(..., help="Memory id (42, or f7 for a fact).")) -> None:
    """One memory with where it came from: the turns around it, or a fact's history."""
    from psi.errors import NotFound
    from psi.memory.control import parse_ref

    kind, episode_id = parse_ref(memory_id)
    memory = _memory()
    if kind == "fact":
        _show_fact(memory, episode_id)
        return
    episode = memory.episodes.get([episode_id]).get(episode_id)
    if episode is None:
        raise NotFound(f"No memory {episode_id}.", hint="`psi memory list` shows ids.")
    out.print(
        f"[bold]Memory {episode.id}[/]: {escape(episode.speaker)} on "
        f"{episode.at.astimezone():%A %d %B %Y at %H:%M}"
    )
    out.print(escape(episode.text))
    out.print(
        f"[dim]Source: message {episode.message_id} in conversation "
        f"{episode.conversation_id} (`psi history show {episode.conversation_id}`)[/]"
    )
    context = memory.episodes.neighbours(episode, before=2, after=2)
    if len(context) > 1:
        out.print("[dim]Around it:[/]")
        for e in context:
            mark = "→" if e.id == episode.id else " "
            out.print(f"{mark} " + _line(e.id, f"{e.at.astimezone():%H:%M}", e.speaker, e.text))


def _show_fact(memory: Memory, fact_id: int) -> None:
    facts = _facts(memory)
    fact = facts.get(fact_id)
    out.print(_fact_line(fact))
    sources = ", ".join(str(m) for m in fact.source_message_ids) or "none"
    out.print(f"[dim]Learnt from messages: {sources}; origin: {fact.origin}[/]")
    history = facts.history(fact_id)
    if len(history) > 1:
        out.print("[dim]History (oldest first):[/]")
        for version in history:
            out.print("  " + _fact_line(version))


def _facts(memory: Memory) -> Facts:
    from psi.memory.facts import Facts

    return Facts(memory.episodes.store, user_id=memory.episodes.user_id)


@app.command("edit")
@friendly
def edit(
    memory_id: str = typer.Argument(..., help="A fact id, like f7."),
    statement: list[str] = typer.Argument(..., help="What the fact should say instead."),
) -> None:
    """Correct a fact in your own words (what was said stays as it was said)."""
    from psi.errors import InputError
    from psi.memory.control import parse_ref

    kind, fact_id = parse_ref(memory_id)
    if kind != "fact":
        raise InputError(
            "Only facts can be edited; what was said is a record.",
            hint="Forget it with `psi memory forget ID`, or edit a fact (f7).",
        )
    fact = _facts(_memory()).edit(fact_id, " ".join(statement))
    out.print(_fact_line(fact))


@app.command("profile")
@friendly
def profile(
    text: str | None = typer.Option(None, "--set", help="Your own profile text."),
    reset: bool = typer.Option(False, "--reset", help="Go back to the profile built from facts."),
) -> None:
    """The short "about you" that psi keeps in every conversation."""
    from psi.memory.profile import Profiles

    memory = _memory()
    profiles = Profiles(memory.episodes.store, user_id=memory.episodes.user_id)
    if reset:
        current = profiles.rebuild()
    elif text is not None:
        current = profiles.set(text)
    else:
        current = profiles.get()
    origin = "written by you" if current.edited_by_user else "built from facts"
    out.print(f"[dim]Profile ({origin}):[/]")
    out.print(escape(current.text) if current.text else "[dim](empty)[/]")


@app.command("forget")
@friendly
def forget(
    memory_id: str | None = typer.Argument(None, help="Memory id to forget (42, or f7)."),
    everything: bool = typer.Option(False, "--all", help="Forget every conversation and memory."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete for real: the message, its memory and index entries; nothing is kept."""
    from psi.errors import InputError
    from psi.memory.control import forget_all, forget_episode, parse_ref

    if everything == (memory_id is not None):
        raise InputError("Give one memory id, or --all.", hint="`psi memory forget 42`")
    memory = _memory()
    if everything:
        if not yes and not typer.confirm(
            "Forget every conversation and memory? This cannot be undone"
        ):
            raise typer.Exit(1)
        gone = forget_all(memory)
        out.print(f"Forgot everything ({gone} conversations).")
        return
    assert memory_id is not None
    kind, number = parse_ref(memory_id)
    if kind == "fact":
        _facts(memory).forget(number)
        out.print(f"Forgot fact f{number} and its history.")
        return
    forget_episode(memory, number)
    out.print(f"Forgot memory {number} and the message it came from.")


@app.command("export")
@friendly
def export(path: Path = typer.Argument(..., help="File to write (JSON).")) -> None:
    """Write all conversations (the source of every memory) to one JSON file."""
    from psi.memory.control import export_memory

    count = export_memory(_memory(), path)
    out.print(f"Exported {count} messages to {path}.")


@app.command("import")
@friendly
def import_(
    path: Path = typer.Argument(..., help="A file written by `psi memory export`."),
) -> None:
    """Add the conversations in an export file, and index them."""
    from psi.memory.control import import_memory

    count = import_memory(_memory(), path)
    out.print(f"Imported {count} messages from {path}.")


@app.command("reindex")
@friendly
def reindex_() -> None:
    """Rebuild the keyword and vector indexes (after a crash or a change of embedder)."""
    from rich.progress import Progress

    from psi.memory.control import reindex

    memory = _memory()
    with err.status("Loading the embedding model…", spinner="dots"):
        memory.embedder()
    with Progress(console=err) as bar:
        task = bar.add_task("Re-embedding", total=None)
        done = reindex(memory, progress=lambda d, t: bar.update(task, completed=d, total=t))
    out.print(f"Reindexed {done} memories.")
