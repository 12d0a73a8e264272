"""Today and goals in the browser.

    GET  /today                  the agenda: tasks, habits, milestones, overdue, check-ins owed
    POST /items/{ref}/done       t12, h3 or m4 done (one click)
    GET  /goals                  every goal with its standing, and "new goal from a sentence"
    POST /goals/draft            the sentence read (asking what it lacks), the plan drafted
    POST /goals/save             the edited goal and plan, checked whole, saved
    GET  /goals/{id}             plan, progress chart with forecast band, status, habits
    POST /goals/{id}/checkin     log a value
    POST /goals/{id}/status      pause, resume, finish or archive
    GET  /review                 the week: moved, slipped, forecast, a suggestion, a chart each

The same library calls as `psi today`, `psi goal add|show|edit`, `psi done`, `psi log` and
`psi review`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' local Annotated
# aliases (Who) at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from psi.clock import system_clock
from psi.errors import InputError, PsiError
from psi.goals.agenda import build_agenda
from psi.goals.drafts import GoalDraft
from psi.goals.forecast import Point, forecast
from psi.goals.planner import PlanOutcome
from psi.goals.store import Goals
from psi.web.base import Viewer, Web
from psi.web.chart import STATUS_WORDS, progress_svg
from psi.web.forms import Fields, fields
from psi.web.plans import drafts, raw_form, raw_from

MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
STATUSES = ("active", "paused", "done", "archived")


def routes(web: Web) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Who = Annotated[Viewer, Depends(web.viewer)]
    Form = Annotated[Fields, Depends(fields)]
    checked = [Depends(web.same_origin)]

    def goals_of(viewer: Viewer) -> Goals:
        return Goals(
            web.store, user_id=viewer.user_id, zone=web.settings.zone(), clock=system_clock
        )

    def common(goals: Goals) -> dict[str, Any]:
        def rule(rule: Any) -> str:
            from psi.goals.recurrence import describe

            return describe(rule) if rule is not None else ""

        return {
            "day": goals.local_day,
            "describe": rule,
            "status_words": STATUS_WORDS,
            "zone": goals.zone,
        }

    @router.get("/today", response_class=HTMLResponse)
    def today(request: Request, viewer: Who) -> HTMLResponse:
        goals = goals_of(viewer)
        now = goals.clock()
        agenda = build_agenda(goals, goals.local_day(now), now=now)
        return web.page(request, "today.html", viewer, agenda=agenda, **common(goals))

    @router.post("/items/{item}/done", dependencies=checked)
    def done(
        request: Request, viewer: Who, item: Annotated[str, Path(max_length=20)], form: Form
    ) -> Response:
        from psi.web.base import local_path

        back = local_path(form.text("back", limit=200), "/today")

        def mark() -> str:
            goals = goals_of(viewer)
            kind, number = goals.find_item(item)
            if kind == "t":
                return f"Done: {goals.complete_task(number).title}."
            if kind == "h":
                goals.check_habit(number)
                title = next((h.title for h in goals.habits() if h.id == number), "the habit")
                return f"Done for today: {title}."
            goals.complete_milestone(number)
            return f"Milestone m{number} reached."

        return web.act(request, back, mark)

    @router.get("/goals", response_class=HTMLResponse)
    def goal_list(request: Request, viewer: Who) -> HTMLResponse:
        goals = goals_of(viewer)
        now = goals.clock()
        standings = {
            s.goal.id: s for s in build_agenda(goals, goals.local_day(now), now=now).standings
        }
        return web.page(
            request,
            "goals.html",
            viewer,
            goals=goals.all(statuses=STATUSES),
            standings=standings,
            **common(goals),
        )

    @router.post("/goals/draft", response_class=HTMLResponse, dependencies=checked)
    def draft(request: Request, viewer: Who, form: Form) -> HTMLResponse:
        from psi.goals.parse import Question, parse_goal_text

        goals = goals_of(viewer)
        today = goals.local_day(goals.clock())
        sentence = form.text("sentence", limit=500)
        why = form.text("why") or None

        def ask(question: str, **more: Any) -> HTMLResponse:
            return web.page(
                request, "goal_new.html", viewer, sentence=sentence, why=why or "",
                question=question, **more,
            )  # fmt: skip

        if not sentence:
            return ask("What do you want to reach? e.g. “Run 100 km by June 2027”.")
        parsed = parse_goal_text(sentence, today=today)
        if isinstance(parsed, Question):
            return ask(parsed.text)
        baseline = None
        if parsed.metric is not None:
            try:
                baseline = form.number("baseline", what="Where you start")
            except InputError as error:
                return ask(error.message, unit=parsed.metric.unit)
            if baseline is None:
                return ask(f"Where do you start, in {parsed.metric.unit}?", unit=parsed.metric.unit)
        try:
            goal = parsed.draft(starts_on=today, baseline=baseline, why=why)
        except PsiError as error:
            unit = parsed.metric.unit if parsed.metric else None
            return ask(error.message + (f" {error.hint}" if error.hint else ""), unit=unit)
        outcome = _plan(web, goals, goal)
        return web.page(
            request,
            "goal_edit.html",
            viewer,
            raw=raw_form(goal, outcome.plan),
            notes=outcome.notes,
            source=outcome.source,
            **common(goals),
        )

    @router.post("/goals/save", dependencies=checked)
    def save(request: Request, viewer: Who, form: Form) -> Response:
        from psi.web.base import redirect

        goals = goals_of(viewer)
        raw = raw_from(form)
        try:
            goal, plan = drafts(raw, today=goals.local_day(goals.clock()))
            goal_id = goals.add(goal, plan)
        except PsiError as error:
            return web.page(
                request, "goal_edit.html", viewer, status=400, raw=raw, notes=[], source="edited",
                error=error.message + (f" {error.hint}" if error.hint else ""), **common(goals),
            )  # fmt: skip
        return redirect(f"/goals/{goal_id}", flash=("ok", f"Saved goal {goal_id}: {goal.title}."))

    @router.get("/goals/{goal_id}", response_class=HTMLResponse)
    def goal_page(request: Request, viewer: Who, goal_id: RowId) -> HTMLResponse:
        goals = goals_of(viewer)
        try:
            plan = goals.plan(goal_id)
        except PsiError as error:
            return web.error_page(request, viewer, error)
        found = plan.goal
        now = goals.clock()
        agenda = build_agenda(goals, goals.local_day(now), now=now, with_adherence=True)
        standing = next((s for s in agenda.standings if s.goal.id == goal_id), None)
        logged = [
            c for c in goals.check_ins(goal_ids=[goal_id]) if c.goal_id == goal_id and c.value
            is not None
        ]  # fmt: skip
        points = [Point(c.at, c.value) for c in logged if c.value is not None]
        seen = standing.forecast if standing is not None else None
        if seen is None and found.metric is not None and found.target_date > found.starts_at:
            seen = forecast(found.metric, points, found.starts_at, found.target_date, now)
        chart = progress_svg(found, points, seen, plan.milestones, now=now, zone=goals.zone)
        adherence = dict((h.id, a) for h, a in standing.habits) if standing else {}
        return web.page(
            request,
            "goal.html",
            viewer,
            goal=found,
            plan=plan,
            forecast=seen,
            chart=chart,
            check_ins=list(reversed(logged))[:20],
            adherence=adherence,
            next_milestone=standing.next_milestone if standing else None,
            now=now,
            **common(goals),
        )

    @router.post("/goals/{goal_id}/checkin", dependencies=checked)
    def check_in(request: Request, viewer: Who, goal_id: RowId, form: Form) -> Response:
        def log() -> str:
            from psi.goals.conversation import GoalChat

            value = form.number("value", what="The value")
            if value is None:
                raise InputError("Give the value to log.")
            chat = GoalChat(goals_of(viewer))
            found = chat.goals.get(goal_id)
            chat.goals.log(goal_id, value, note=form.text("note") or None)
            unit = found.metric.unit if found.metric else ""
            return f"Logged {value:g} {unit} for {found.title}. {chat.standing_text(goal_id)}"

        from psi.web.base import local_path

        return web.act(request, local_path(form.text("back"), f"/goals/{goal_id}"), log)

    @router.post("/goals/{goal_id}/status", dependencies=checked)
    def set_status(request: Request, viewer: Who, goal_id: RowId, form: Form) -> Response:
        def change() -> str:
            status = form.text("status", limit=20)
            if status not in STATUSES:
                raise InputError(f"{status!r} is not a goal status.")
            saved = goals_of(viewer).set_status(goal_id, status)
            return f"{saved.title} is {saved.status}."

        return web.act(request, f"/goals/{goal_id}", change)

    @router.get("/review", response_class=HTMLResponse)
    def review(request: Request, viewer: Who) -> HTMLResponse:
        from psi.goals.review import (
            forecast_text,
            moved_text,
            slipped_text,
            suggest,
            weekly_review,
        )

        goals = goals_of(viewer)
        now = goals.clock()
        result = weekly_review(goals, now=now)
        suggestions = suggest(result, None)
        rows = [
            {
                "review": g,
                "moved": moved_text(result, g),
                "slipped": slipped_text(result, g),
                "forecast": forecast_text(result, g),
                "suggestion": suggestions.get(g.goal.id),
                "chart": progress_svg(
                    g.goal, g.points, g.forecast, g.milestones, now=now, zone=goals.zone
                ),
            }
            for g in result.goals
        ]
        return web.page(request, "review.html", viewer, result=result, rows=rows, **common(goals))

    return router


def _plan(web: Web, goals: Goals, goal: GoalDraft) -> PlanOutcome:
    """The configured model's plan, or psi's own rules' when that model is the embedded
    one (its plans are worse than the rules') or cannot be asked."""
    from psi.goals.planner import draft_plan, plan_context
    from psi.goals.spread import deterministic_plan

    today = goals.local_day(goals.clock())
    profile = web.settings.profile()
    if profile.embedded_default:
        return PlanOutcome(
            deterministic_plan(goal, today=today),
            "fallback",
            ["Spread evenly by psi's own rules: the embedded model is too small to plan."],
        )
    try:
        model, lock = web.models.get(profile.name)
        lock.acquire()
        try:
            context = plan_context(goals.store, goals.user_id, now=goals.clock(), zone=goals.zone)
            return draft_plan(goal, model, today=today, context=context)
        finally:
            lock.release()
    except PsiError as error:
        return PlanOutcome(
            deterministic_plan(goal, today=today),
            "fallback",
            [f"Spread evenly by psi's own rules: {error.message}"],
        )
