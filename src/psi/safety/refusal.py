"""What psi says when it will not help: which category, why, and what it can do instead.

    refusal(verdict)        # "I won't help with that: it falls under S9 ..."
    care_note(verdict)      # guidance for the model when a message is sensitive, or None

Sensitive is not the same as dangerous: health, grief, security research and fiction are
answered; a verdict of "warn" adds a line to the system message asking for care instead.
"""

from __future__ import annotations

from psi.safety.types import HAZARDS, Verdict

INSTEAD: dict[str, str] = {
    "S1": "talk about staying safe, de-escalating a conflict, or how to report a threat",
    "S2": "explain how to protect yourself against it, or what the law says",
    "S3": "point you to support and to the services that take reports",
    "S4": "point you to the services that protect children and take reports",
    "S5": "help you say what you mean fairly, or check what is known to be true",
    "S7": "help you protect your own privacy, or find public, consented information",
    "S8": "help you write something of your own, or explain fair use",
    "S9": "talk about the history, the policy or the safety side of it",
    "S10": "help you talk about the subject with respect",
    "S12": "help with the relationship or health side of it",
    "S14": "help with defensive security, or with code for your own systems",
}

CARE: dict[str, str] = {
    "S11": (
        "The user may be going through something painful. Answer with warmth and care, "
        "do not lecture, and mention that if they are in danger they can call or text a "
        "crisis line (988 in the US, 116 123 in the UK and Ireland) or local emergency "
        "services."
    ),
    "S6": "Give careful general information and say when a professional should be asked.",
}
GENERAL_CARE = (
    "This request touches a sensitive subject. Help with what is legitimate (information, "
    "safety, fiction, research), without step-by-step details that would enable harm."
)


def refusal(verdict: Verdict, *, what: str = "that") -> str:
    codes = verdict.categories
    if not codes:
        why = "; ".join(verdict.reasons) or "it was flagged"
        return f"I won't help with {what}: {why}."
    named = ", ".join(f"{code} {HAZARDS[code]}" for code in codes)
    instead = next((INSTEAD[c] for c in codes if c in INSTEAD), "help with a safer side of it")
    return (
        f"I won't help with {what}: it falls under {named} (score {verdict.score:.2f}), "
        f"which your safety policy blocks. I can {instead} instead. If this was a "
        "misreading, rephrase it, or see `psi audit` for what was flagged."
    )


def care_note(verdict: Verdict) -> str | None:
    if verdict.action != "warn" or not verdict.categories:
        return None
    return next((CARE[c] for c in verdict.categories if c in CARE), GENERAL_CARE)
