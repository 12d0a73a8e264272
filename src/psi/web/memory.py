"""The memory browser: what psi remembers, where each memory came from, and the user's
control over it.

    GET  /memory?q=            facts and what was said: newest, or the ones recall finds
    GET  /memory/{ref}         12 (something said) or f7 (a fact): its source and history
    POST /memory/{ref}/edit    a fact in the user's own words
    POST /memory/{ref}/forget  deleted for real (psi.memory.control; a fact with its history)
    POST /memory/profile       the "about you" psi keeps in every conversation, or rebuilt
    GET  /memory/export        every conversation, fact and the profile in one JSON file
    POST /memory/import        such a file added back

The same calls as `psi memory list|search|show|edit|forget|export|import|profile`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' local Annotated
# aliases (Who) at run time.
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from psi.errors import InputError, PsiError
from psi.memory.facts import Facts
from psi.memory.profile import Profiles
from psi.store.models import Message
from psi.web.base import Viewer, Web
from psi.web.forms import Fields, fields

SHOWN = 30
Ref = Annotated[str, Path(max_length=20)]


def parse_ref(raw: str) -> tuple[str, int]:
    """("fact", 7) for "f7"; ("episode", 12) for "12" or "e12"."""
    kind = "fact" if raw[:1].lower() == "f" else "episode"
    digits = raw[1:] if raw[:1].lower() in ("f", "e") else raw
    if not digits.isdigit() or not 1 <= int(digits) < 2**31:
        raise InputError(f"{raw!r} is not a memory id.", hint="Ids look like 42 or f7.")
    return kind, int(digits)


def routes(web: Web) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Who = Annotated[Viewer, Depends(web.viewer)]
    Form = Annotated[Fields, Depends(fields)]
    checked = [Depends(web.same_origin)]

    def memory_of(viewer: Viewer) -> Any:
        memory, indexer = web.memories.get(viewer.user_id)
        indexer.flush(timeout=5)  # what the last replies said is listed too
        return memory

    @router.get("/memory", response_class=HTMLResponse)
    def browse(
        request: Request, viewer: Who, q: Annotated[str, Query(max_length=500)] = ""
    ) -> HTMLResponse:
        memory = memory_of(viewer)
        facts = Facts(web.store, user_id=viewer.user_id)
        query = q.strip()
        if query:
            found_facts = facts.search(query, limit=SHOWN)
            said = [r.episode for r in memory.recall(query, limit=SHOWN)]
        else:
            found_facts = facts.current()[:SHOWN]
            said = memory.episodes.recent(limit=SHOWN)
        profile = Profiles(web.store, user_id=viewer.user_id).get()
        return web.page(
            request, "memory.html", viewer, q=query, facts=found_facts, said=said,
            profile=profile,
        )  # fmt: skip

    @router.get("/memory/export")
    def export(viewer: Who) -> Response:
        from psi.memory.control import export_memory

        memory = memory_of(viewer)
        with tempfile.TemporaryDirectory() as folder:
            path = FilePath(folder) / "psi-memory.json"
            export_memory(memory, path)
            body = path.read_bytes()
        return Response(
            body,
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="psi-memory.json"'},
        )

    @router.post("/memory/import", dependencies=checked)
    async def import_(request: Request, viewer: Who, form: Form) -> Response:
        from starlette.concurrency import run_in_threadpool

        upload = form.upload("file")
        body = await upload.read() if upload is not None else b""

        def load() -> str:
            from psi.memory.control import import_memory

            if not body:
                raise InputError("Choose a file written by psi's memory export.")
            with tempfile.TemporaryDirectory() as folder:
                path = FilePath(folder) / "import.json"
                path.write_bytes(body)
                try:
                    count = import_memory(memory_of(viewer), path)
                except InputError as error:
                    # The temporary name means nothing to the person: name their file.
                    name = upload.filename if upload is not None else "the file"
                    raise InputError(
                        error.message.replace(str(path), str(name)), hint=error.hint
                    ) from None
            return f"Imported {count} messages."

        return await run_in_threadpool(web.act, request, "/memory", load)

    @router.post("/memory/profile", dependencies=checked)
    def profile(request: Request, viewer: Who, form: Form) -> Response:
        def save() -> str:
            profiles = Profiles(web.store, user_id=viewer.user_id)
            if form.text("action") == "rebuild":
                profiles.rebuild()
                return "Your profile is built from what psi knows again."
            profiles.set(form.text("text", limit=20_000))
            return "Saved your profile."

        return web.act(request, "/memory", save)

    @router.get("/memory/{ref}", response_class=HTMLResponse)
    def show(request: Request, viewer: Who, ref: Ref) -> HTMLResponse:
        try:
            kind, number = parse_ref(ref)
            if kind == "fact":
                facts = Facts(web.store, user_id=viewer.user_id)
                fact = facts.get(number)
                return web.page(
                    request, "memory_fact.html", viewer, fact=fact,
                    history=facts.history(number),
                    sources=_conversations(web, viewer, fact.source_message_ids),
                )  # fmt: skip
            memory = memory_of(viewer)
            episode = memory.episodes.get([number]).get(number)
            if episode is None:
                from psi.errors import NotFound

                raise NotFound(f"No memory {number}.", hint="Search your memory to find ids.")
            around = memory.episodes.neighbours(episode, before=2, after=2)
            return web.page(request, "memory_said.html", viewer, episode=episode, around=around)
        except PsiError as error:
            return web.error_page(request, viewer, error)

    @router.post("/memory/{ref}/edit", dependencies=checked)
    def edit(request: Request, viewer: Who, ref: Ref, form: Form) -> Response:
        def change() -> str:
            kind, number = parse_ref(ref)
            if kind != "fact":
                raise InputError(
                    "Only facts can be edited; what was said is a record.",
                    hint="Forget it instead, or edit a fact.",
                )
            Facts(web.store, user_id=viewer.user_id).edit(number, form.text("statement"))
            return "Saved the fact in your words."

        return web.act(request, f"/memory/{ref}", change)

    @router.post("/memory/{ref}/forget", dependencies=checked)
    def forget(request: Request, viewer: Who, ref: Ref) -> Response:
        def drop() -> str:
            from psi.memory.control import forget_episode

            kind, number = parse_ref(ref)
            if kind == "fact":
                Facts(web.store, user_id=viewer.user_id).forget(number)
                return f"Forgot fact f{number} and its history."
            forget_episode(memory_of(viewer), number)
            return f"Forgot memory {number} and the message it came from."

        return web.act(request, "/memory", drop)

    return router


def _conversations(web: Web, viewer: Viewer, message_ids: tuple[int, ...]) -> dict[int, int]:
    """The conversation each of the user's messages is in (forgotten ones are absent)."""
    if not message_ids:
        return {}
    query = select(Message.id, Message.conversation_id).where(
        Message.id.in_(list(message_ids)), Message.user_id == viewer.user_id
    )
    with web.store.session() as session:
        return {int(m): int(c) for m, c in session.execute(query)}
