"""Privacy and safety in the browser: what left the machine, what waits for a yes, what the
guards and tools did, and which model may see what.

    GET  /privacy                      the egress ledger (what left, to whom, redactions)
                                       and the routing policy
    POST /privacy/routing              the policy, saved to config.toml (owner or admin)
    GET  /approvals                    tool calls held for the user's yes, and the settled
    POST /approvals/{id}/{decision}    approve (run it now) or deny
    GET  /audit?type=                  the audit log: verdicts, tool calls, approvals

The same calls as `psi egress log`, `psi approvals`, `psi audit` and `psi config set
routing.*`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' local Annotated
# aliases (Who) at run time.
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from psi.errors import InputError
from psi.web.base import Viewer, Web
from psi.web.forms import Fields, fields

MAX_ID = 2**31 - 1
PRIVACY = ("local-only", "redact", "allow")
KINDS = ("verdict", "tool_call", "approval_request", "approval_decision")


def routes(web: Web) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Who = Annotated[Viewer, Depends(web.viewer)]
    Form = Annotated[Fields, Depends(fields)]
    checked = [Depends(web.same_origin)]

    @router.get("/privacy", response_class=HTMLResponse)
    def ledger(request: Request, viewer: Who) -> HTMLResponse:
        from psi.egress.ledger import Ledger

        rows = Ledger(web.store, user_id=viewer.user_id)
        return web.page(
            request, "privacy.html", viewer, entries=rows.recent(50), totals=rows.totals(),
            routing=web.settings.routing, choices=PRIVACY,
        )  # fmt: skip

    @router.post("/privacy/routing", dependencies=checked)
    def routing(request: Request, viewer: Who, form: Form) -> Response:
        def save() -> str:
            from psi.config import set_config_values

            web.configurer(viewer)
            privacy = form.text("privacy")
            sensitive = form.text("sensitive")
            if privacy not in PRIVACY or sensitive not in ("", *PRIVACY):
                raise InputError("Pick local-only, redact or allow.")
            providers = [p.strip() for p in form.text("providers").split(",") if p.strip()]
            budget = form.number("budget", what="The monthly budget") or 0.0
            levels: dict[str, str] = dict(web.settings.routing.levels)
            levels.pop("sensitive", None)
            if sensitive:
                levels["sensitive"] = sensitive
            set_config_values(  # all or nothing: a refused value changes none
                {
                    "routing.privacy": privacy,
                    "routing.levels": levels,
                    "routing.providers": providers,
                    "routing.monthly_budget_usd": float(budget),
                }
            )
            web.reload(request)
            return f"Saved: routing.privacy is {privacy}."

        return web.act(request, "/privacy", save)

    @router.get("/approvals", response_class=HTMLResponse)
    def approvals(request: Request, viewer: Who) -> HTMLResponse:
        from psi.safety.approval import Approvals

        held = Approvals(web.store, user_id=viewer.user_id)
        return web.page(
            request, "approvals.html", viewer, pending=held.list(status="pending", limit=100),
            settled=[a for a in held.list(status=None, limit=50) if a.status != "pending"],
        )  # fmt: skip

    @router.post("/approvals/{approval_id}/{decision}", dependencies=checked)
    def decide(
        request: Request,
        viewer: Who,
        approval_id: Annotated[int, Path(ge=1, le=MAX_ID)],
        decision: Literal["approve", "deny"],
    ) -> Response:
        def settle_it() -> str:
            from psi.agent.acting import settle

            status, output = settle(
                approval_id,
                approve=decision == "approve",
                settings=web.settings,
                store=web.store,
                user_id=viewer.user_id,
            )
            if status == "denied":
                return f"Denied: call {approval_id} will not run."
            shown = " ".join((output or "").split())
            shown = shown if len(shown) <= 300 else shown[:299] + "…"
            return f"Approved: call {approval_id} ran. It returned: {shown}"

        return web.act(request, "/approvals", settle_it)

    @router.get("/audit", response_class=HTMLResponse)
    def audit(
        request: Request,
        viewer: Who,
        type: Annotated[str, Query(max_length=30)] = "",
    ) -> HTMLResponse:
        from psi.safety.audit import Audit

        kinds = [type] if type in KINDS else None
        entries = Audit(web.store, user_id=viewer.user_id).entries(kinds=kinds, limit=100)
        return web.page(request, "audit.html", viewer, entries=entries, kinds=KINDS, chosen=type)

    return router
