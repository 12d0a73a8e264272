"""Tool calls between a model's replies, through approval, the audit log and the guards.

    acting = Acting(toolbox, ctx, approver=AskUser(confirm), audit=audit, ...)
    content = acting.run(call)        # what the model is given back, as the tool message

Before a call runs, psi.safety.approval decides whether it needs the user's yes (the
rule of two) from the call's risk and the untrusted sources in the context; the approver
answers (asked, held for later, or refused). After it runs, output from an untrusted
source (the web, recalled memories) passes the tool-channel guard, is withheld if it reads
as instructions and the policy blocks that, and enters the context spotlighted. From
then on the turn counts that source as untrusted content in the context, so a page that
asks for the next call cannot have it without the user.

`settle(...)` carries out or drops a held call when the user decides later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from psi.clock import Clock, system_clock
from psi.config import Settings
from psi.llm.types import ToolCall
from psi.safety.approval import Approvals, Approver, Request, needs_confirmation
from psi.safety.audit import Audit, Kind
from psi.safety.guards import Guards
from psi.safety.spotlight import spotlight
from psi.safety.types import Channel
from psi.store.db import Store
from psi.tools.base import TRUSTED_SOURCES, Toolbox, ToolContext


@dataclass
class Acting:
    toolbox: Toolbox
    ctx: ToolContext
    approver: Approver
    audit: Audit
    approvals: Approvals
    guards: Guards | None
    key: str
    origin: str = "chat"
    untrusted: set[str] = field(default_factory=set)
    private: bool = True
    # What the user should hear about: calls held or refused, output withheld.
    notes: list[str] = field(default_factory=list)

    def run(self, call: ToolCall) -> str:
        tool = self.toolbox.get(call.name)
        conversation = self.ctx.conversation_id
        if tool is None:
            return json.dumps({"error": f"no tool {call.name!r}"})
        action = tool.describe(call.arguments)
        reason = needs_confirmation(tool.risk, untrusted=self.untrusted, private=self.private)
        approval_id = None
        if reason is not None:
            request = Request(
                tool=tool.name,
                arguments=dict(call.arguments),
                risk=str(tool.risk),
                reason=reason,
                action=action,
                origin=self.origin,
                conversation_id=conversation,
                untrusted=tuple(sorted(self.untrusted)),
            )
            decision = self.approver.decide(request)
            if decision == "held":
                approval_id = self.approvals.hold(request)
                self._approval(Kind.approval_request, approval_id, call, "held", reason)
                self.audit.tool_call(
                    tool.name, call.arguments, action="held", reason=reason,
                    conversation_id=conversation, approval_id=approval_id,
                )  # fmt: skip
                self.notes.append(
                    f"Held for your approval: {action}, because {reason}. "
                    f"`psi approvals approve {approval_id}` runs it; "
                    f"`psi approvals deny {approval_id}` drops it."
                )
                return json.dumps(
                    {
                        "held": f"Not run: it waits for the user's approval "
                        f"(psi approvals approve {approval_id}), because {reason}.",
                    }
                )
            self._approval(Kind.approval_request, None, call, "asked", reason)
            self._approval(Kind.approval_decision, None, call, decision, "the user answered")
            if decision == "denied":
                self.audit.tool_call(
                    tool.name, call.arguments, action="denied",
                    reason=f"the user said no; {reason}", conversation_id=conversation,
                )  # fmt: skip
                self.notes.append(f"Not run (you said no): {action}.")
                return json.dumps({"denied": "The user did not allow this action."})
        output = self.toolbox.run(call, self.ctx)
        failed = output.startswith('{"error"')
        self.audit.tool_call(
            tool.name,
            call.arguments,
            action="failed" if failed else "ran",
            reason=f"approved by the user; {reason}"
            if reason
            else f"{tool.risk}: no approval needed",
            conversation_id=conversation,
        )
        if tool.output in TRUSTED_SOURCES or failed:
            return output
        return self.take_in(output, tool.output)

    def take_in(self, text: str, source: str) -> str:
        """Untrusted text as the model gets it: guarded, maybe withheld, spotlighted; the
        turn counts `source` as untrusted content in the context from now on."""
        self.untrusted.add(source)
        channel = Channel.document if source == "document" else Channel.tool
        if self.guards is not None:
            verdict = self.guards.check(
                readable(text), channel, conversation_id=self.ctx.conversation_id
            )
            if verdict.action == "block":
                self.notes.append(
                    f"psi withheld {source} content from the model: {'; '.join(verdict.reasons)}."
                )
                text = (
                    f"[psi withheld this {source} content: {'; '.join(verdict.reasons)}. "
                    "Tell the user it was withheld; `psi audit` shows it.]"
                )
        return spotlight(text, source, self.key)

    def _approval(
        self, kind: Kind, approval_id: int | None, call: ToolCall, action: str, reason: str
    ) -> None:
        self.audit.approval(
            kind,
            approval_id=approval_id,
            tool=call.name,
            arguments=call.arguments,
            action=action,
            reason=reason,
            conversation_id=self.ctx.conversation_id,
        )


def readable(output: str) -> str:
    """A tool's JSON output as the lines of text it carries (a page's text, a memory), so
    the guard reads them line by line as a model would, not as one escaped string."""
    try:
        data = json.loads(output)
    except ValueError:
        return output
    lines: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            lines.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return "\n".join(lines) or output


def settle(
    approval_id: int,
    *,
    approve: bool,
    settings: Settings,
    store: Store,
    user_id: int,
    toolbox: Toolbox | None = None,
    clock: Clock = system_clock,
) -> tuple[str, str | None]:
    """Carry out (approve) or drop one of the user's held calls, with psi's own tools
    unless `toolbox` is given; returns (status, what the tool returned). The CLI and the
    API both settle through here."""
    from psi.tools.builtin import builtin_toolbox

    toolbox = toolbox or builtin_toolbox()
    ctx = ToolContext(settings=settings, store=store, user_id=user_id, clock=clock)
    approvals = Approvals(store, user_id=user_id, clock=clock)
    audit = Audit(store, user_id=user_id, clock=clock)
    held = approvals.get(approval_id)
    call = ToolCall(id=f"approval-{approval_id}", name=held.tool, arguments=held.arguments)
    if not approve:
        approvals.decide(approval_id, "denied")
        audit.approval(
            Kind.approval_decision, approval_id=approval_id, tool=held.tool,
            arguments=held.arguments, action="denied", reason="the user denied it",
            conversation_id=held.conversation_id,
        )  # fmt: skip
        return "denied", None
    if held.status != "pending":
        approvals.decide(approval_id, "approved")  # raises: settled already
    ctx.conversation_id = held.conversation_id
    output = toolbox.run(call, ctx)
    approvals.decide(approval_id, "approved", result=output)
    audit.approval(
        Kind.approval_decision, approval_id=approval_id, tool=held.tool,
        arguments=held.arguments, action="approved", reason="the user approved it",
        conversation_id=held.conversation_id,
    )  # fmt: skip
    audit.tool_call(
        held.tool, held.arguments, action="failed" if output.startswith('{"error"') else "ran",
        reason=f"approved by the user later; {held.reason}",
        conversation_id=held.conversation_id, approval_id=approval_id,
    )  # fmt: skip
    return "approved", output
