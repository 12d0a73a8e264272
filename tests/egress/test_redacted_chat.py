"""Under privacy "redact", a conversation full of personal details reaches the closed
model (a recording server on 127.0.0.1) as placeholders only, and the answers come back
with the details restored; the ledger counts what was replaced."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from faker import Faker

from psi.agent.chat import ChatService
from psi.config import load_settings
from psi.egress.ledger import Ledger
from support.fake_openai import FakeOpenAI

CONFIG = """
default_model = "cloud"

[routing]
privacy = "redact"
monthly_budget_usd = 10

[models.cloud]
backend = "openai"
model = "cloud-1"
base_url = "{url}"
local = false
tier = 4
"""


def profile(seed: int) -> dict[str, str]:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return {
        "friend": fake.name(),
        "email": fake.email(),
        "phone": fake.numerify("(###) ###-####"),
        "street": fake.street_address(),
        "ssn": fake.ssn(),
        "card": fake.credit_card_number(card_type="visa16"),
    }


def test_no_stored_personal_value_reaches_the_cloud(write_config: Callable[[str], Path]) -> None:
    sent: list[str] = []
    for seed in range(4):
        person = profile(seed)
        with FakeOpenAI() as fake:  # it answers with the message it was sent
            write_config(CONFIG.format(url=fake.url))
            service = ChatService.open(load_settings(), embed=False)
            remembered = "".join(
                service.send(
                    f"remember that my friend {person['friend']} lives at {person['street']}"
                )
            )
            assert remembered.startswith("I'll remember that")
            message = (
                f"Draft a birthday note to {person['friend']} ({person['email']}, "
                f"phone {person['phone']}) at {person['street']}. My SSN is {person['ssn']} "
                f"and my card {person['card']}."
            )
            turn = service.send(message)
            reply = "".join(turn)
            entries = Ledger(service.store, user_id=service.user_id).recent()
            service.close()
        payloads = [raw.decode() for raw in fake.raw]
        sent += payloads
        assert payloads, "the cloud model was asked"
        for value in person.values():
            for payload in payloads:
                assert value not in payload, (value, payload)
        # The friend's surname alone gives them away too.
        surname = person["friend"].split()[-1]
        assert all(surname not in payload for payload in payloads)
        # The fake echoed placeholders; psi put the real values back for the user.
        assert reply == message
        assert re.search(r"\[PERSON_\d+\]", payloads[-1])
        assert entries and entries[0].redactions.get("PERSON", 0) >= 1
        assert sum(entries[0].redactions.values()) >= 5
    assert len(sent) >= 4


def test_a_mangled_or_invented_placeholder_is_flagged_not_guessed(
    write_config: Callable[[str], Path],
) -> None:
    def mangle(request: dict[str, object]) -> str:
        sent = str(request["messages"][-1]["content"])  # type: ignore[index]
        issued = re.findall(r"\[PERSON_\d+\]", sent)
        return f"Say hi to {issued[0]}, to [PERSON 1] and to [PERSON_9]."

    with FakeOpenAI(mangle) as fake:
        write_config(CONFIG.format(url=fake.url))
        service = ChatService.open(load_settings(), embed=False)
        turn = service.send("Please greet Margarethe Vollenweider for me.")
        reply = "".join(turn)
        notes = turn.notes
        service.close()
    assert "Margarethe Vollenweider" not in fake.raw[0].decode()
    assert reply == "Say hi to Margarethe Vollenweider, to [PERSON 1] and to [PERSON_9]."
    assert len(notes) == 1 and "[PERSON 1]" in notes[0] and "[PERSON_9]" in notes[0]
