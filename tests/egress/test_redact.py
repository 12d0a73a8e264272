"""The redactor: what leaves the machine has no personal data, and the reply gets it back."""

from __future__ import annotations

import re

import pytest
from faker import Faker

from psi.egress.redact import Redactor

PLACEHOLDER = re.compile(r"\[[A-Z_]+_\d+\]")


def test_structured_identifiers_are_replaced() -> None:
    redactor = Redactor()
    text = (
        "Mail jane.roe@example.org or call +44 20 7946 0958. Card 4111 1111 1111 1111, "
        "IBAN DE89 3704 0044 0532 0130 00, SSN 078-05-1120, server 203.0.113.7."
    )

    out = redactor.redact(text)

    for value in (
        "jane.roe@example.org",
        "+44 20 7946 0958",
        "4111 1111 1111 1111",
        "DE89 3704 0044 0532 0130 00",
        "078-05-1120",
        "203.0.113.7",
    ):
        assert value not in out
    assert set(redactor.placeholders.values()) >= {"jane.roe@example.org", "203.0.113.7"}
    assert redactor.counts["EMAIL_ADDRESS"] == 1


def test_unknown_names_and_street_addresses_are_replaced() -> None:
    out = Redactor().redact(
        "Dr. Meza wrote to Catherine Holloway. She lives at 216 Menzies Street, Apt. 4."
    )

    assert "Meza" not in out
    assert "Catherine" not in out and "Holloway" not in out
    assert "Menzies" not in out and "Apt. 4" not in out
    assert "wrote to" in out and "She lives at" in out


def test_the_same_value_keeps_its_placeholder_across_calls() -> None:
    redactor = Redactor()

    first = redactor.redact("Ask Catherine Holloway, catherine@example.org.")
    second = redactor.redact("Did catherine@example.org answer? CATHERINE HOLLOWAY did.")

    email = next(p for p, v in redactor.placeholders.items() if v == "catherine@example.org")
    assert email in first and email in second
    assert len([p for p in redactor.placeholders if p.startswith("[EMAIL")]) == 1
    person = [p for p in redactor.placeholders if p.startswith("[PERSON")]
    assert len(person) == 1 and person[0] in first and person[0] in second
    assert redactor.counts["EMAIL_ADDRESS"] == 2


def test_known_values_are_always_redacted_whatever_their_type() -> None:
    redactor = Redactor(
        [("Oskar", "PERSON"), ("Vesterbro", "LOCATION"), ("Acme Robotics", "ORGANIZATION")],
        entities=(),
    )

    out = redactor.redact("oskar moved to Vesterbro and works at ACME  Robotics now.")

    assert "oskar" not in out.lower() and "Vesterbro" not in out and "Robotics" not in out
    assert "[LOCATION_1]" in out and "[ORGANIZATION_1]" in out
    assert redactor.counts == {"PERSON": 1, "LOCATION": 1, "ORGANIZATION": 1}


def test_dates_and_cities_stay_for_the_model() -> None:
    out = Redactor().redact("Book me a table in Lisbon on 12 March 2026.")

    assert out == "Book me a table in Lisbon on 12 March 2026."


def test_a_reply_is_restored() -> None:
    redactor = Redactor([("Anna Berg", "PERSON")])
    sent = redactor.redact("Write a birthday note to Anna Berg (anna@berg.se).")
    person, email = PLACEHOLDER.findall(sent)

    reply = f"Dear {person}, happy birthday! I'll send it to {email}."

    assert (
        redactor.restore(reply) == "Dear Anna Berg, happy birthday! I'll send it to anna@berg.se."
    )


@pytest.mark.parametrize("cut", range(1, len("Hi [PERSON_1], see [EMAIL_ADDRESS_1]!")))
def test_streaming_restore_holds_a_split_placeholder(cut: int) -> None:
    redactor = Redactor()
    redactor.redact("Catherine Holloway, catherine@example.org")
    reply = "Hi [PERSON_1], see [EMAIL_ADDRESS_1]!"
    restorer = redactor.restorer()

    shown = [restorer.feed(reply[:cut]), restorer.feed(reply[cut:]), restorer.finish()]

    assert "".join(shown) == "Hi Catherine Holloway, see catherine@example.org!"
    assert not any("[" in part for part in shown)
    assert restorer.flagged == []


def test_streaming_restore_one_character_at_a_time() -> None:
    redactor = Redactor()
    redactor.redact("Call Catherine Holloway at 0171 234 5678 today.")
    reply = redactor.redact("Call Catherine Holloway at 0171 234 5678 today.")
    restorer = redactor.restorer()

    shown = "".join(restorer.feed(ch) for ch in reply) + restorer.finish()

    assert shown == "Call Catherine Holloway at 0171 234 5678 today."


def test_mangled_or_invented_placeholders_are_flagged_and_left_alone() -> None:
    redactor = Redactor()
    redactor.redact("Catherine Holloway and Bruno Meier")
    reply = "[PERSON_1] met [PERSON 2], [person_2], PERSON_2, [PERSON_7] and [PHONE_NUMBER_1]."
    restorer = redactor.restorer()

    shown = restorer.feed(reply) + restorer.finish()

    assert shown == (
        "Catherine Holloway met [PERSON 2], [person_2], PERSON_2, [PERSON_7] and [PHONE_NUMBER_1]."
    )
    assert restorer.flagged == [
        "[PERSON 2]",
        "[person_2]",
        "PERSON_2",
        "[PERSON_7]",
        "[PHONE_NUMBER_1]",
    ]
    assert "Bruno" not in shown


def test_a_placeholder_in_the_users_own_text_is_never_issued() -> None:
    redactor = Redactor()

    out = redactor.redact("My template says [PERSON_1]; the client is Catherine Holloway.")

    assert "[PERSON_1]" in out and "[PERSON_2]" in out
    assert redactor.placeholders == {"[PERSON_2]": "Catherine Holloway"}
    assert redactor.restore("[PERSON_1] stays") == "[PERSON_1] stays"


@pytest.mark.parametrize("seed", range(8))
def test_no_known_value_of_a_generated_profile_leaves(seed: int) -> None:
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
    fake.seed_instance(seed)
    first, last = fake.first_name(), fake.last_name()
    street, city, employer = fake.street_address(), fake.city(), fake.company()
    email, phone = fake.email(), fake.phone_number()
    known = [
        (f"{first} {last}", "PERSON"),
        (street, "STREET_ADDRESS"),
        (city, "LOCATION"),
        (employer, "ORGANIZATION"),
    ]
    text = (
        f"Hi, it's {first} {last} from {employer}. I moved to {street}, {city}. "
        f"Reach me at {email} or {phone}; {first} prefers mail."
    )

    out = Redactor(known).redact(text)

    for value in (f"{first} {last}", street, city, employer, email, phone):
        assert value not in out, (value, out)
    assert out.count("[PERSON_1]") == 1
