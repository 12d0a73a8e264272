"""psi's own tools: goals, memory and the web, each with the risk it carries.

    toolbox = builtin_toolbox()
    toolbox.specs()                       # what the model is offered

| tool           | risk         | output  | private data |
|----------------|--------------|---------|--------------|
| get_agenda     | read         | psi     | yes          |
| recall_memory  | read         | memory  | yes          |
| read_file      | read         | document| yes          |
| create_goal    | write        | psi     |              |
| log_progress   | write        | psi     |              |
| complete_task  | write        | psi     |              |
| update_goal    | write        | psi     |              |
| forget_memory  | irreversible | psi     |              |
| web_fetch      | outward      | web     |              |

web_fetch leaves the machine through the egress door: refused under local-only (unless
the address is on this machine), the address redacted under "redact", every request in
the ledger. What it returns is someone else's text: untrusted, spotlighted, guarded.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from html.parser import HTMLParser
from typing import Any

from pydantic import BaseModel, Field

from psi.goals.conversation import CompleteTask, CreateGoal, GetAgenda, GoalChat, LogProgress
from psi.goals.store import Goals
from psi.tools.base import Risk, Tool, Toolbox, ToolContext

WEB_MAX_BYTES = 2_000_000
WEB_MAX_CHARS = 8_000


def _goal_chat(ctx: ToolContext) -> GoalChat:
    return GoalChat(
        Goals(ctx.store, user_id=ctx.user_id, zone=ctx.settings.zone(), clock=ctx.clock)
    )


class _GoalTool(Tool):
    def run(self, args: Any, ctx: ToolContext) -> Any:
        return _goal_chat(ctx).handle(self.name, args, ctx.source_message_id)


class GetAgendaTool(_GoalTool):
    name = "get_agenda"
    description = "What is due today or this week, and how each goal stands."
    Args = GetAgenda
    risk = Risk.read
    private = True


class CreateGoalTool(_GoalTool):
    name = "create_goal"
    description = "Save a new goal the user wants to reach, with a plan psi drafts."
    Args = CreateGoal
    risk = Risk.write


class LogProgressTool(_GoalTool):
    name = "log_progress"
    description = "Record progress the user reports on one of their goals."
    Args = LogProgress
    risk = Risk.write


class CompleteTaskTool(_GoalTool):
    name = "complete_task"
    description = "Mark a task or today's habit done."
    Args = CompleteTask
    risk = Risk.write


class UpdateGoal(BaseModel):
    goal: str = Field(description="Goal id or words of its title.")
    title: str | None = None
    target: float | None = Field(default=None, description="A new target value.")
    target_date: date | None = Field(default=None, description="A new date, YYYY-MM-DD.")
    status: str | None = Field(default=None, description="active, paused, done or archived.")


class UpdateGoalTool(Tool):
    name = "update_goal"
    description = "Change a goal: its title, target, date or status (pause, finish, archive)."
    Args = UpdateGoal
    risk = Risk.write

    def run(self, args: Any, ctx: ToolContext) -> Any:
        goals = _goal_chat(ctx).goals
        goal = goals.find(args.goal, statuses=("active", "paused", "done"))
        changes: dict[str, Any] = {}
        if args.title:
            changes["title"] = args.title
        if args.target_date:
            changes["target_date"] = args.target_date
        metric = goal.draft(goals.zone).metric
        if args.target is not None and metric is not None:
            changes["metric"] = {**metric.model_dump(), "target": args.target}
        if changes:
            goal = goals.edit(goal.id, changes)
        if args.status:
            goal = goals.set_status(goal.id, args.status)
        return {"goal": goal.id, "title": goal.title, "status": goal.status}


class RecallMemory(BaseModel):
    query: str = Field(description="What to look for in what the user said before.")


class RecallMemoryTool(Tool):
    name = "recall_memory"
    description = "Search what the user said in earlier conversations."
    Args = RecallMemory
    risk = Risk.read
    output = "memory"
    private = True

    def run(self, args: Any, ctx: ToolContext) -> Any:
        from psi.memory.service import Memory

        memory = Memory(ctx.store, user_id=ctx.user_id)
        found = memory.recall(args.query, limit=5, now=ctx.clock())
        return {
            "memories": [
                {"id": r.episode.id, "at": f"{r.episode.at:%Y-%m-%d}", "text": r.episode.text}
                for r in found
            ]
        }


class ForgetMemory(BaseModel):
    memory_id: int = Field(description="The id recall_memory gave.")


class ForgetMemoryTool(Tool):
    name = "forget_memory"
    description = "Delete one memory for good (the message it came from included)."
    Args = ForgetMemory
    risk = Risk.irreversible

    def run(self, args: Any, ctx: ToolContext) -> Any:
        from psi.memory.control import forget_episode
        from psi.memory.service import Memory

        forget_episode(Memory(ctx.store, user_id=ctx.user_id), args.memory_id)
        return {"forgotten": args.memory_id}


class WebFetch(BaseModel):
    url: str = Field(description="An http or https address.")


class _Text(HTMLParser):
    """The readable text of an HTML page: no scripts, styles or markup."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def page_text(body: str, content_type: str) -> str:
    if "html" not in content_type:
        return body
    parser = _Text()
    parser.feed(body)
    parser.close()
    return "\n".join(parser.parts)


class WebFetchTool(Tool):
    name = "web_fetch"
    description = "Fetch a web page and return its text."
    Args = WebFetch
    risk = Risk.outward
    output = "web"

    def run(self, args: Any, ctx: ToolContext) -> Any:
        import httpx2

        from psi.egress import http_client, is_loopback
        from psi.egress.door import door
        from psi.errors import InputError, ModelError

        try:
            url = httpx2.URL(args.url)
        except httpx2.InvalidURL as exc:
            raise InputError(f"{args.url!r} is no web address ({exc}).") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise InputError(f"{args.url!r} is no http or https address.")
        outbound = None if is_loopback(url.host) else door(ctx.settings, "web_fetch")
        if outbound is not None and outbound.privacy == "redact":
            # What an address carries (a query, a path) is data leaving too.
            from psi.egress.door import make_redactor

            url = httpx2.URL(make_redactor(ctx.settings).redact(str(url)))
        client = http_client(
            purpose="web_fetch",
            offline=ctx.settings.offline,
            timeout=20.0,
            follow_redirects=True,
            outbound=outbound,
        )
        try:
            with client:
                if outbound is not None:
                    outbound.check()
                response = client.get(url)
        except httpx2.HTTPError as exc:
            raise ModelError(f"Could not fetch {url}: {exc}.") from None
        body = response.content[:WEB_MAX_BYTES].decode(response.encoding or "utf-8", "replace")
        text = page_text(body, response.headers.get("content-type", ""))
        return {
            "url": str(response.url),
            "status": response.status_code,
            "text": text[:WEB_MAX_CHARS],
            "truncated": len(text) > WEB_MAX_CHARS,
        }


READ_MAX_BYTES = 200_000


class ReadFile(BaseModel):
    path: str = Field(description="A text file's path, e.g. ~/notes/groceries.md.")


class ReadFileTool(Tool):
    name = "read_file"
    description = "Read a text file of the user's (a note, a saved email) and return it."
    Args = ReadFile
    risk = Risk.read
    output = "document"
    private = True

    def run(self, args: Any, ctx: ToolContext) -> Any:
        from pathlib import Path

        from psi.errors import InputError

        path = Path(args.path).expanduser()
        try:
            raw = path.read_bytes()[: READ_MAX_BYTES + 1]
        except OSError as exc:
            raise InputError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        if b"\0" in raw[:4096]:
            raise InputError(f"{path} is not a text file.")
        text = raw[:READ_MAX_BYTES].decode("utf-8", errors="replace")
        return {"path": str(path), "text": text, "truncated": len(raw) > READ_MAX_BYTES}


def builtin_tools() -> list[Tool]:
    return [
        GetAgendaTool(),
        RecallMemoryTool(),
        ReadFileTool(),
        CreateGoalTool(),
        LogProgressTool(),
        CompleteTaskTool(),
        UpdateGoalTool(),
        ForgetMemoryTool(),
        WebFetchTool(),
    ]


@cache
def builtin_toolbox() -> Toolbox:
    """psi's own tools (stateless: one toolbox serves every turn of the process)."""
    return Toolbox(builtin_tools())
