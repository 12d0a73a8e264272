"""Sensitivity labels: sources give the floor, entities and topics raise it."""

from __future__ import annotations

import pytest

from psi.sensitivity import Level, Source, Span, entity_level, level_of, topic_level


def test_levels_are_ordered() -> None:
    assert Level.public < Level.personal < Level.sensitive
    assert str(Level.sensitive) == "sensitive"


@pytest.mark.parametrize(
    ("source", "level"),
    [
        (Source.user_message, Level.personal),
        (Source.memory, Level.personal),
        (Source.goal, Level.personal),
        (Source.checkin, Level.personal),
        (Source.document, Level.personal),
        (Source.tool_output, Level.public),
        (Source.system_prompt, Level.public),
    ],
)
def test_each_source_has_its_default_label(source: Source, level: Level) -> None:
    assert Span.of("the weather is fine", source).level is level


@pytest.mark.parametrize(
    ("entity", "level"),
    [
        ("PERSON", Level.personal),
        ("EMAIL_ADDRESS", Level.personal),
        ("PHONE_NUMBER", Level.personal),
        ("LOCATION", Level.personal),
        ("CREDIT_CARD", Level.sensitive),
        ("IBAN_CODE", Level.sensitive),
        ("US_SSN", Level.sensitive),
        ("US_PASSPORT", Level.sensitive),
        ("UK_NHS", Level.sensitive),
        ("IP_ADDRESS", Level.sensitive),
        ("STREET_ADDRESS", Level.sensitive),
        ("MEDICAL_CONDITION", Level.sensitive),
        ("NRP", Level.sensitive),
        ("DATE_TIME", Level.public),
        ("person", Level.personal),
        ("SOMETHING_NEW", Level.sensitive),
    ],
)
def test_entity_types_weigh_as_documented(entity: str, level: Level) -> None:
    assert entity_level(entity) is level


def test_entities_only_raise_a_span() -> None:
    assert Span.of("Anna", Source.tool_output, ["PERSON"]).level is Level.personal
    assert Span.of("4111 1111", Source.tool_output, ["CREDIT_CARD"]).level is Level.sensitive
    # A public entity does not lower a personal source.
    assert Span.of("tomorrow", Source.user_message, ["DATE_TIME"]).level is Level.personal


@pytest.mark.parametrize(
    "text",
    [
        "I was diagnosed with diabetes last year",
        "my therapist thinks so",
        "Can I afford the mortgage on my salary?",
        "she is Pregnant",
        "what is my credit score",
    ],
)
def test_health_and_money_topics_are_sensitive(text: str) -> None:
    assert topic_level(text) is Level.sensitive
    assert Span.of(text, Source.tool_output).level is Level.sensitive


@pytest.mark.parametrize(
    "text",
    [
        "diagnose this stack trace",
        "we have a lot of technical debt",
        "use std::vector",
        "the prescribed format is JSON",
        "download the file",
        "Cancerian traits",
    ],
)
def test_everyday_words_are_not_topics(text: str) -> None:
    assert topic_level(text) is Level.public


def test_a_prompt_is_as_sensitive_as_its_most_sensitive_span() -> None:
    spans = [
        Span.of("You are psi.", Source.system_prompt),
        Span.of("what's on today?", Source.user_message),
    ]
    assert level_of(spans) is Level.personal
    assert level_of([*spans, Span.of("IBAN DE89...", Source.memory, ["IBAN_CODE"])]) is (
        Level.sensitive
    )
    assert level_of([]) is Level.public
