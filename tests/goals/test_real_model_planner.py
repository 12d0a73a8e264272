"""The embedded SmolLM2 model plans a goal end to end; whatever it writes, the plan is valid.

The 135M model is weak and, on a busy CPU, slow under a grammar: the call is
bounded in tokens and time, so the outcome may well be the fallback plan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from psi.config import DEFAULT_MODEL_REF, Backend, ModelProfile
from psi.goals.drafts import GoalDraft, MetricDraft, PlanDraft
from psi.goals.planner import draft_plan
from psi.llm import ChatOptions
from psi.llm.llamacpp import LlamaCppModel, resolve_model_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smol() -> Iterator[LlamaCppModel]:
    profile = ModelProfile(
        name="local", backend=Backend.llamacpp, model=DEFAULT_MODEL_REF, context_window=4096
    )
    model = LlamaCppModel(profile, model_path=resolve_model_file(DEFAULT_MODEL_REF, offline=True))
    yield model
    model.close()


def test_the_embedded_model_gives_a_valid_plan(smol: LlamaCppModel) -> None:
    goal = GoalDraft(
        title="Read 24 books",
        area="learning",
        starts_on=date(2026, 5, 6),
        target_date=date(2026, 12, 31),
        metric=MetricDraft(
            unit="books", baseline=0, target=24, direction="increase", aggregate="sum"
        ),
    )
    outcome = draft_plan(
        goal,
        smol,
        today=date(2026, 5, 6),
        context="- You work night shifts.\n- You like crime novels.",
        # One try of 40 s at most, so the test stays under a minute.
        options=ChatOptions(max_tokens=300, temperature=0.0, timeout=40, schema_retries=0),
    )
    assert outcome.source in ("model", "fallback")
    assert PlanDraft.model_validate(outcome.plan.model_dump()) == outcome.plan
    assert outcome.plan.problems(goal) == []
    assert outcome.plan.milestones
    if outcome.source == "fallback":
        assert outcome.notes
