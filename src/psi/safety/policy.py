"""The user's policy: an assessment becomes a verdict (allow, warn or block) and a reason.

    verdict = judge(guard.assess(text, Channel.user), settings.safety)
    verdict.action                  # "block"
    verdict.categories              # ("S9",)
    verdict.reasons                 # ("S9 indiscriminate weapons (0.93)",)

Hazards: when the overall hazard score reaches `hazard_threshold`, the categories that
count are those scored at the threshold or above, or else the most likely one (the
embedded guard splits its one hazard score over the categories, so no single share may
reach it). The action is the strictest the policy sets for them.

Injection: tool output and documents are judged against the strict threshold and get
`injection_action`; what the user types is their own instruction, so an injection score
there (a role-override phrase, invisible characters) only warns. A model's answer is not
judged for injection: it does not instruct psi, and the tools it calls pass approval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psi.safety.types import HAZARDS, Action, Assessment, Channel, Verdict

if TYPE_CHECKING:
    from psi.config import SafetySettings

_RANK: dict[Action, int] = {"allow": 0, "warn": 1, "block": 2}


def strictest(actions: list[Action]) -> Action:
    return max(actions, key=_RANK.__getitem__, default="allow")


def hazard_categories(assessment: Assessment, threshold: float) -> tuple[str, ...]:
    """The S-codes behind a hazard score at or over `threshold` (none under it)."""
    if assessment.unsafe < threshold:
        return ()
    over = [code for code, score in assessment.hazards.items() if score >= threshold]
    if over:
        return tuple(sorted(over, key=lambda code: -assessment.hazards[code]))
    if assessment.hazards:
        return (max(assessment.hazards, key=assessment.hazards.__getitem__),)
    return ()


def injection_threshold(channel: Channel, settings: SafetySettings) -> float | None:
    """The injection cut-off for `channel`, None where injection is not judged."""
    if channel is Channel.model:
        return None
    if channel is Channel.user:
        return settings.injection_threshold_user
    return settings.injection_threshold


def judge(assessment: Assessment, settings: SafetySettings) -> Verdict:
    channel = assessment.channel
    actions: list[Action] = []
    reasons: list[str] = []
    categories = hazard_categories(assessment, settings.hazard_threshold)
    for code in categories:
        action = settings.actions.get(code, "block")
        actions.append(action)
        reasons.append(f"{code} {HAZARDS[code]} ({assessment.unsafe:.2f}): {action}")
    score = assessment.unsafe if categories else 0.0
    cut = injection_threshold(channel, settings)
    if cut is not None and assessment.injection >= cut:
        action = settings.injection_action if channel is not Channel.user else "warn"
        actions.append(action)
        fired = f"; rules: {', '.join(assessment.rules)}" if assessment.rules else ""
        reasons.append(
            f"reads as instructions to psi ({assessment.injection:.2f}){fired}: {action}"
        )
        score = max(score, assessment.injection)
    return Verdict(
        action=strictest(actions),
        channel=channel,
        categories=categories,
        score=round(score, 4),
        reasons=tuple(reasons),
        assessment=assessment,
    )
