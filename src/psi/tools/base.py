"""The tool seam: what a model may ask psi to do, and how risky each thing is.

    class WebFetch(Tool):
        name = "web_fetch"
        description = "Fetch a web page and return its text."
        Args = WebFetchArgs                   # a pydantic model: the JSON schema the model sees
        risk = Risk.outward                   # read | write | outward | irreversible
        output = "web"                        # where its output comes from: its trust

        def run(self, args, ctx) -> dict: ...

A tool only does its job. Whether it may run now (the rule of two, the user's yes) is
psi.safety.approval's business, asked by the agent before `run`; what it returns enters
the context as data from `output`, spotlighted when that source is untrusted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

from psi.errors import PsiError
from psi.llm.types import ToolCall, ToolSpec

if TYPE_CHECKING:
    from psi.clock import Clock
    from psi.config import Settings
    from psi.store.db import Store


class Risk(StrEnum):
    """What running a tool can do: read the user's data, write it, send something off
    the machine, or destroy something that cannot be brought back."""

    read = "read"
    write = "write"
    outward = "outward"
    irreversible = "irreversible"


# Where text in the context comes from. The user's own words and psi's are trusted;
# the rest is data that may carry someone else's instructions.
TRUSTED_SOURCES = frozenset({"user", "psi"})
SOURCES = ("user", "psi", "memory", "document", "tool", "web")


@dataclass
class ToolContext:
    """What a tool runs against: one user's store, settings and clock."""

    settings: Settings
    store: Store
    user_id: int
    clock: Clock
    conversation_id: int | None = None
    source_message_id: int | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class Tool:
    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]]
    risk: ClassVar[Risk]
    # The trust of what it returns: psi (psi's own records), memory, web, document, tool.
    output: ClassVar[str] = "psi"
    # Whether it reads the user's private data (so that data is "in reach").
    private: ClassVar[bool] = False

    def spec(self) -> ToolSpec:
        return ToolSpec.from_model(self.name, self.description, self.Args)

    def run(self, args: Any, ctx: ToolContext) -> Any:
        raise NotImplementedError

    def describe(self, args: dict[str, Any]) -> str:
        """The exact action, as the user is asked to confirm it."""
        shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
        return f"{self.name}({shown})"


class Toolbox:
    """The tools one turn may use, by name."""

    def __init__(self, tools: list[Tool]) -> None:
        self.tools = {tool.name: tool for tool in tools}

    def specs(self) -> list[ToolSpec]:
        return [tool.spec() for tool in self.tools.values()]

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    @property
    def private_in_reach(self) -> bool:
        return any(tool.private for tool in self.tools.values())

    def run(self, call: ToolCall, ctx: ToolContext) -> str:
        """Run a call; JSON for the model. Bad arguments and refusals come back as
        {"error": ...} so the model can put them right."""
        tool = self.tools.get(call.name)
        if tool is None:
            return json.dumps({"error": f"no tool {call.name!r}"})
        try:
            arguments = tool.Args.model_validate(call.arguments)
            result = tool.run(arguments, ctx)
        except ValidationError as exc:
            return json.dumps({"error": f"bad arguments: {exc.errors()[0]['msg']}"})
        except PsiError as exc:
            return json.dumps({"error": exc.message, "hint": exc.hint})
        if isinstance(result, str):
            return result
        return json.dumps(result, ensure_ascii=False, default=str)
