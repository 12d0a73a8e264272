"""`psi docs add|list|remove|sync|search`: the notes and files psi answers from."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from psi.cli.output import err, friendly, out

if TYPE_CHECKING:
    from rich.progress import TaskID

    from psi.knowledge.library import Library, Progress, Report

app = typer.Typer(
    help="Your notes and documents: psi answers from them, with citations.",
    no_args_is_help=True,
)

NoEmbedOption = typer.Option(
    False, "--no-embed", help="Index for keyword search only; vectors come at the next sync."
)


def open_library() -> Library:
    from psi.agent.chat import load_embedder
    from psi.config import load_settings
    from psi.knowledge.library import Library
    from psi.store.db import open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    return Library(
        store,
        user_id=store.ensure_user(settings.user),
        settings=settings.docs,
        embedder=lambda: load_embedder(settings),
    )


def _run(work: Callable[[Progress], Report]) -> Report:
    """Run `work(progress)` under a progress bar: files read, then passages embedded."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
    from rich.progress import Progress as Bar

    labels = {"read": "Reading files", "embed": "Embedding passages"}
    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report: Report = work(progress)
    return report


def _show(report: Report, *, verbose: bool = False) -> None:
    for path in report.missing:
        err.print(f"[bold red]Not found:[/] {escape(path)}")
    parts = [
        f"{len(report.added)} added",
        f"{len(report.updated)} updated",
        f"{len(report.moved)} moved",
        f"{len(report.removed)} removed",
        f"{report.unchanged} unchanged",
        f"{len(report.skipped)} skipped",
    ]
    out.print(", ".join(parts) + f"; {report.passages} passages indexed.")
    if verbose:
        for path in report.added:
            out.print(f"  [green]+[/] {escape(path)}")
        for path in report.updated:
            out.print(f"  [yellow]~[/] {escape(path)}")
        for path in report.removed:
            out.print(f"  [red]-[/] {escape(path)}")
    for old, new in report.moved:
        out.print(f"  [cyan]moved[/] {escape(old)} -> {escape(new)}")
    for skipped in report.skipped:
        out.print(f"  [yellow]skipped[/] {escape(skipped.path)}: {escape(skipped.reason)}")


@app.command("add")
@friendly
def add(
    paths: list[Path] = typer.Argument(..., help="Files and folders (an Obsidian vault works)."),
    no_embed: bool = NoEmbedOption,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every file added."),
) -> None:
    """Read files and folders: Markdown, text, PDF, HTML, DOCX, .eml and .mbox."""
    library = open_library()
    report = _run(lambda progress: library.add(paths, progress=progress, embed=not no_embed))
    _show(report, verbose=verbose)
    if report.missing:
        err.print("[dim]Check the path; `psi docs list` shows what psi has.[/]")
        raise typer.Exit(2)


@app.command("sync")
@friendly
def sync(
    watch: bool = typer.Option(
        False, "--watch", "-w", help="Keep watching: sync whenever something changes."
    ),
    interval: float = typer.Option(
        2.0, "--interval", min=0.2, help="Seconds between checks with --watch."
    ),
    no_embed: bool = NoEmbedOption,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every file changed."),
) -> None:
    """Read again what changed in the files and folders added (by content hash)."""
    library = open_library()
    if not library.index.roots():
        out.print("No documents yet. Add some with `psi docs add PATH`.")
        return
    report = _run(lambda progress: library.sync(progress=progress, embed=not no_embed))
    _show(report, verbose=verbose)
    if not watch:
        return
    err.print(f"[dim]Watching for changes every {interval:g} s; Ctrl-C stops.[/]")
    try:
        while True:
            time.sleep(interval)
            report = library.sync(embed=not no_embed)
            if report.changed:
                out.print(f"[dim]{time.strftime('%H:%M:%S')}[/] ", end="")
                _show(report, verbose=True)
    except KeyboardInterrupt:
        err.print("[dim]Stopped watching.[/]")


@app.command("list")
@friendly
def list_(
    roots: bool = typer.Option(False, "--roots", help="Only the files and folders added."),
) -> None:
    """What psi has read: the folders and files added, then each document."""
    from rich.table import Table

    library = open_library()
    added = library.index.roots()
    if not added:
        out.print("No documents yet. Add some with `psi docs add PATH`.")
        return
    for _, path, excluded in added:
        out.print(f"[dim]{'left out' if excluded else 'added'}[/] {escape(path)}")
    if roots:
        return
    table = Table("id", "path", "kind", "title", "pages", "passages", "tags")
    for doc in library.index.listed():
        table.add_row(
            str(doc.id),
            escape(doc.path),
            doc.kind,
            escape(doc.title),
            str(doc.pages or ""),
            str(doc.chunks),
            escape(", ".join(doc.tags)),
        )
    out.print(table)


@app.command("remove")
@friendly
def remove(
    target: str = typer.Argument(..., help="A path added, a file or folder inside one, or an id."),
) -> None:
    """Forget a document or folder: its passages and vectors are deleted (the files stay)."""
    library = open_library()
    removed = library.remove(target)
    out.print(f"Removed {len(removed)} document{'s' if len(removed) != 1 else ''}.")
    for path in removed:
        out.print(f"  [red]-[/] {escape(path)}")


@app.command("search")
@friendly
def search(
    query: list[str] = typer.Argument(..., help="What to look for."),
    limit: int = typer.Option(5, "--limit", "-n", min=1),
    keyword_only: bool = typer.Option(
        False, "--keyword-only", help="Skip loading the embedding model (faster, less recall)."
    ),
) -> None:
    """Search your documents the way psi does before answering."""
    from psi.knowledge.citing import source_of

    library = open_library()
    if not keyword_only:
        with err.status("Loading the embedding model…", spinner="dots"):
            library.embedder()
        library.embed_pending()
    hits = library.search(" ".join(query), limit=limit, dense=not keyword_only)
    if not hits:
        out.print("Nothing in your documents matches that.")
        return
    for number, hit in enumerate(hits, start=1):
        source = source_of(number, hit.passage)
        flat = " ".join(hit.passage.text.split())
        short = flat if len(flat) <= 200 else flat[:199] + "…"
        out.print(f"[bold][{number}][/] [cyan]{escape(source.where)}[/]")
        out.print(f"    {escape(short)}")
