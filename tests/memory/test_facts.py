"""Semantic facts on a real SQLite database: extraction, validation, change, forgetting, profile."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from psi.config import load_settings
from psi.errors import InputError, NotFound
from psi.llm import ChatOptions, Message, get_model
from psi.llm.scripted import ScriptedModel
from psi.memory.extraction import (
    EXTRACTION_TOKENS,
    MAX_FACTS_PER_REPLY,
    MIN_CONFIDENCE,
    Explicit,
    Extraction,
    explicit_draft,
    extract_facts,
    parse_explicit,
    validate_facts,
)
from psi.memory.facts import CATEGORIES, FactDraft, Facts
from psi.memory.profile import Profiles, build_profile, profile_block
from psi.memory.wording import content_stems, stem, words
from psi.store.conversations import Conversations, StoredMessage
from psi.store.db import Store
from psi.store.models import Base
from support.database import all_rows

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

SATURDAY = datetime(2026, 5, 2, 18, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 5, 6, 9, 30, tzinfo=UTC)


def said(
    conversations: Conversations, lines: list[tuple[str, str]], at: datetime
) -> list[StoredMessage]:
    cid = conversations.create(at=at)
    for n, (role, text) in enumerate(lines):
        conversations.add(cid, Message(role=role, content=text), at=at + timedelta(seconds=n))
    return conversations.messages(cid)


def fact(
    statement: str, *, sources: list[int], subject: str = "user", **fields: Any
) -> dict[str, Any]:
    return {
        "subject": subject,
        "key": fields.get("key"),
        "statement": statement,
        "category": fields.get("category", "profile"),
        "when": fields.get("when"),
        "confidence": fields.get("confidence", 0.9),
        "source_ids": sources,
    }


def reply(*facts: dict[str, Any]) -> str:
    return json.dumps({"facts": list(facts)})


def draft(statement: str, at: datetime, *, key: str | None = None, **fields: Any) -> FactDraft:
    return FactDraft(
        subject=fields.pop("subject", "user"),
        statement=statement,
        category=fields.pop("category", "profile"),
        key=key,
        valid_from=at,
        **fields,
    )


# -- extraction ----------------------------------------------------------------------


def test_extraction_keeps_good_facts_and_resolves_dates_against_the_message(
    store: Store, conversations: Conversations
) -> None:
    messages = said(
        conversations,
        [
            ("user", "I ran my first marathon last Saturday! My sister Grace cheered."),
            ("assistant", "Congratulations! How do you feel?"),
            ("user", "Tired. We moved to Lisbon in March, so the hills were brutal."),
        ],
        WEDNESDAY,
    )
    first, _, third = (m.id for m in messages)
    model = ScriptedModel(
        [
            reply(
                fact(
                    "You ran your first marathon.",
                    sources=[first],
                    category="event",
                    when="last Saturday",
                ),
                fact(
                    "Your sister is called Grace.",
                    sources=[first],
                    category="relationship",
                    key="sister_name",
                ),
                fact("You live in Lisbon.", sources=[third], key="home_city", when="in March"),
            )
        ]
    )
    drafts = extract_facts(model, messages)

    assert [d.statement for d in drafts] == [
        "You ran your first marathon.",
        "Your sister is called Grace.",
        "You live in Lisbon.",
    ]
    marathon, sister, home = drafts
    assert marathon.event_at == datetime(2026, 5, 2, tzinfo=UTC)  # the Saturday before
    assert marathon.valid_from == messages[0].created_at
    assert marathon.source_message_ids == (first,)
    assert sister.key == "sister_name" and sister.event_at is None
    assert home.event_at == datetime(2026, 3, 1, tzinfo=UTC)
    # The model saw the messages with their ids, speakers and dates, and the schema.
    call = model.calls[0]
    assert f"[{first}] user (Wednesday 06 May 2026): I ran" in call.messages[-1].content
    assert "psi (Wednesday 06 May 2026): Congratulations" in call.messages[-1].content

    facts = Facts(store, user_id=conversations.user_id)
    changes = facts.add_all(drafts)
    assert [c.action for c in changes] == ["added", "added", "added"]
    stored = {f.statement: f for f in facts.current()}
    assert stored["You live in Lisbon."].key == "home_city"
    assert stored["You ran your first marathon."].event_at == datetime(2026, 5, 2, tzinfo=UTC)


def test_garbage_replies_store_nothing(store: Store, conversations: Conversations) -> None:
    messages = said(conversations, [("user", "I work as a nurse in Porto.")], SATURDAY)
    not_json = ScriptedModel(["sure thing!", "{{{", "facts: none"])
    assert extract_facts(not_json, messages) == []
    assert len(not_json.calls) == 2  # asked, then re-asked once with the error

    wrong_shape = ScriptedModel(['{"facts": "many"}'] * 2)
    assert extract_facts(wrong_shape, messages) == []

    nonsense = ScriptedModel(
        [
            reply(
                {"statement": "", "category": "profile", "confidence": 1, "source_ids": []},
                {"subject": "user"},
                fact("You work as a nurse.", sources=[messages[0].id], category="gossip"),
                fact("You work as a nurse.", sources=[messages[0].id], confidence=float("nan")),
                fact("You work as a nurse.", sources=[messages[0].id], confidence=7),
                fact("x" * 400, sources=[messages[0].id]),
            )
        ]
    )
    assert extract_facts(nonsense, messages) == []
    assert Facts(store, user_id=conversations.user_id).all() == []


def test_low_confidence_facts_are_dropped(conversations: Conversations) -> None:
    messages = said(conversations, [("user", "I might move to Berlin, not sure.")], SATURDAY)
    source = [messages[0].id]
    model = ScriptedModel(
        [
            reply(
                fact(
                    "You might move to Berlin.",
                    sources=source,
                    category="plan",
                    confidence=MIN_CONFIDENCE - 0.01,
                ),
                fact(
                    "You consider moving to Berlin.",
                    sources=source,
                    category="plan",
                    confidence=MIN_CONFIDENCE,
                ),
            )
        ]
    )
    assert [d.statement for d in extract_facts(model, messages)] == [
        "You consider moving to Berlin."
    ]


def test_hallucinated_facts_are_dropped(conversations: Conversations) -> None:
    messages = said(
        conversations,
        [
            ("user", "I walked my dog in the park this morning."),
            ("assistant", "Lovely! You should try the Monsanto trails with Rex."),
        ],
        SATURDAY,
    )
    user, psi = messages[0].id, messages[1].id
    extraction = Extraction.model_validate(
        {
            "facts": [
                fact("You walked your dog in the park.", sources=[user], category="event"),
                fact("You work at Google.", sources=[user]),  # nothing of it was said
                fact("Your dog Max walked in the park.", sources=[user], category="event"),
                fact("You like the Monsanto trails.", sources=[psi], category="preference"),
                fact("You walked your dog in the park.", sources=[user, 999]),
                fact("Grace walks in the park.", sources=[user], subject="Grace"),
                fact("You have a dog.", sources=[], category="relationship"),
                fact("You own a cat.", sources=[], category="relationship"),
                fact("You walked in the park this morning.", sources=[psi], category="event"),
            ]
        }
    )
    checked = validate_facts(extraction, messages)
    assert [(d.statement, d.source_message_ids) for d in checked.kept] == [
        ("You walked your dog in the park.", (user,)),
        ("You have a dog.", (user,)),  # uncited, but the user's message supports it
        ("You walked in the park this morning.", (user,)),  # miscited, provenance mended
    ]
    reasons = [reason for _item, reason in checked.rejected]
    assert reasons == [
        "its words are not in the messages it cites",
        "the name 'Max' is not in the messages it cites",
        "cites no message of the user's",
        "cites messages it was not given: [999]",
        "its subject is not in the messages it cites",
        "no message of the user's supports it",
    ]


def test_extraction_skips_forget_commands_and_needs_user_messages(
    conversations: Conversations,
) -> None:
    messages = said(
        conversations,
        [("user", "Forget that my dog is called Rex."), ("assistant", "Done.")],
        SATURDAY,
    )
    model = ScriptedModel([])  # any call would fail: nothing is queued
    assert extract_facts(model, messages) == []
    assert model.calls == []


def test_long_conversations_are_sent_in_batches_that_fit(conversations: Conversations) -> None:
    lines = [
        ("user", f"Note {n}: I collect stamps from country number {n}. " * 20) for n in range(12)
    ]
    messages = said(conversations, lines, SATURDAY)
    model = ScriptedModel([reply()] * 20, context_window=2048)
    assert extract_facts(model, messages) == []
    assert len(model.calls) > 1
    sent = [line for call in model.calls for line in call.messages[-1].content.splitlines()]
    assert len(sent) == len(messages)


# -- change over time ------------------------------------------------------------------


def test_a_newer_value_supersedes_and_history_stays_linked(
    store: Store, conversations: Conversations
) -> None:
    facts = Facts(store, user_id=conversations.user_id)
    lisbon = facts.add(draft("You live in Lisbon.", SATURDAY, key="home_city")).fact
    porto_change = facts.add(draft("You live in Porto.", WEDNESDAY, key="home_city"))
    porto = porto_change.fact

    assert porto_change.action == "added"
    assert [f.id for f in porto_change.replaced] == [lisbon.id]
    old = facts.get(lisbon.id)
    assert old.valid_to == WEDNESDAY and old.superseded_by == porto.id and not old.current
    assert [f.statement for f in facts.current()] == ["You live in Porto."]
    assert [f.statement for f in facts.history(lisbon.id)] == [
        "You live in Lisbon.",
        "You live in Porto.",
    ]
    assert facts.history(porto.id) == facts.history(lisbon.id)

    # Said earlier than both (an old conversation imported today): it goes into the history.
    madrid = facts.add(
        draft("You live in Madrid.", SATURDAY - timedelta(days=400), key="home_city")
    )
    assert madrid.action == "history" and madrid.replaced == ()
    chain = facts.history(porto.id)
    assert [f.statement for f in chain] == [
        "You live in Madrid.",
        "You live in Lisbon.",
        "You live in Porto.",
    ]
    assert [f.superseded_by for f in chain] == [lisbon.id, porto.id, None]
    assert [f.valid_to for f in chain] == [SATURDAY, WEDNESDAY, None]

    # Another person's home is another slot.
    facts.add(draft("Grace lives in Lisbon.", WEDNESDAY, key="home_city", subject="Grace"))
    assert len(facts.current()) == 2


def test_generic_keys_do_not_make_unrelated_facts_supersede(
    store: Store, conversations: Conversations
) -> None:
    facts = Facts(store, user_id=conversations.user_id)
    facts.add(draft("You love hiking.", SATURDAY, key="hobby", category="preference"))
    facts.add(draft("You love chess.", WEDNESDAY, key="Hobbies", category="preference"))
    assert {f.statement for f in facts.current()} == {"You love hiking.", "You love chess."}


def test_a_negation_supersedes_without_a_key(store: Store, conversations: Conversations) -> None:
    facts = Facts(store, user_id=conversations.user_id)
    meat = facts.add(draft("You eat meat.", SATURDAY, category="preference")).fact
    veggie = facts.add(draft("You don't eat meat anymore.", WEDNESDAY, category="preference"))
    assert [f.id for f in veggie.replaced] == [meat.id]
    assert [f.statement for f in facts.current()] == ["You don't eat meat anymore."]
    assert facts.get(meat.id).superseded_by == veggie.fact.id


def test_duplicates_merge_into_one_row(store: Store, conversations: Conversations) -> None:
    first = said(conversations, [("user", "My dog Rex is a beagle.")], SATURDAY)
    second = said(conversations, [("user", "Rex, my beagle, ate my shoe again.")], WEDNESDAY)
    facts = Facts(store, user_id=conversations.user_id)
    facts.add(
        draft(
            "Your dog Rex is a beagle.",
            SATURDAY,
            confidence=0.7,
            source_message_ids=(first[0].id,),
            category="relationship",
        )
    )
    merged = facts.add(
        draft(
            "your dog, Rex, is a Beagle",
            WEDNESDAY,
            confidence=0.9,
            source_message_ids=(second[0].id,),
            category="relationship",
            key="dog_breed",
        )
    )
    assert merged.action == "merged"
    rows = facts.all()
    assert len(rows) == 1
    assert rows[0].source_message_ids == (first[0].id, second[0].id)
    assert rows[0].confidence == 0.9
    assert rows[0].key == "dog_breed"  # learnt from the later mention
    assert rows[0].valid_from == SATURDAY  # first said then

    # The same message extracted again (a re-run) adds nothing either.
    again = facts.add(
        draft(
            "Your dog Rex is a beagle.",
            SATURDAY,
            source_message_ids=(first[0].id,),
            category="relationship",
        )
    )
    assert again.action == "merged" and len(facts.all()) == 1


def test_explicit_remember_outranks_extraction(store: Store, conversations: Conversations) -> None:
    facts = Facts(store, user_id=conversations.user_id)
    facts.add(draft("You are allergic to peanuts.", SATURDAY, confidence=0.7))
    change = facts.add(explicit_draft("I am allergic to peanuts", at=WEDNESDAY))
    assert change.action == "merged"
    assert change.fact.origin == "explicit" and change.fact.confidence == 1.0


# -- explicit commands -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Remember that my dog is called Rex.", ("remember", "my dog is called Rex")),
        ("remember that that I hate olives", ("remember", "I hate olives")),
        ("please remember my anniversary is June 12", ("remember", "my anniversary is June 12")),
        ("PLEASE REMEMBER THAT I'M VEGAN!", ("remember", "I'M VEGAN")),
        ("psi, remember that I work nights", ("remember", "I work nights")),
        ("Remember: my locker is 42", ("remember", "my locker is 42")),
        ("Don't forget that Grace arrives Friday", ("remember", "Grace arrives Friday")),
        ("forget that my dog is called Rex", ("forget", "my dog is called Rex")),
        ("Please forget my old address.", ("forget", "my old address")),
        ("Forget what I said about Berlin", ("forget", "Berlin")),
        ("ok psi, please forget that I smoke", ("forget", "I smoke")),
    ],
)
def test_explicit_commands_are_parsed(text: str, expected: tuple[str, str]) -> None:
    assert parse_explicit(text) == expected
    assert isinstance(parse_explicit(text), Explicit)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I remember that trip fondly.",
        "Remember that time we went to Rome?",
        "Do you remember that my dog is called Rex?",
        "Forget about it, let's talk about dinner.",
        "Forget that, let's do something else.",
        "remember that",
        "please forget it",
        "Remember to buy milk",
    ],
)
def test_other_messages_are_not_commands(text: str) -> None:
    assert parse_explicit(text) is None


def test_explicit_drafts_speak_to_the_user_and_date_themselves() -> None:
    rex = explicit_draft("my dog is called Rex", at=WEDNESDAY, message_id=7)
    assert rex.statement == "Your dog is called Rex."
    assert rex.category == "relationship" and rex.origin == "explicit"
    assert rex.source_message_ids == (7,) and rex.valid_from == WEDNESDAY
    assert explicit_draft("I'm vegan", at=WEDNESDAY).statement == "You're vegan."
    assert explicit_draft("I love jazz", at=WEDNESDAY).category == "preference"
    assert explicit_draft("I am a nurse", at=WEDNESDAY).statement == "You are a nurse."
    dentist = explicit_draft("my dentist appointment is next Tuesday", at=WEDNESDAY)
    assert dentist.category == "plan" and dentist.event_at == datetime(2026, 5, 12, tzinfo=UTC)
    wedding = explicit_draft("I got married on 2 June 2018", at=WEDNESDAY)
    assert wedding.category == "event" and wedding.event_at == datetime(2018, 6, 2, tzinfo=UTC)
    with pytest.raises(InputError):
        explicit_draft("the", at=WEDNESDAY)


def test_forget_by_description_takes_the_closest_facts(
    store: Store, conversations: Conversations
) -> None:
    facts = Facts(store, user_id=conversations.user_id)
    facts.add(draft("You live in Lisbon.", SATURDAY, key="home_city"))
    facts.add(draft("Your sister lives in Lisbon.", SATURDAY, category="relationship"))
    facts.add(draft("Your dog is called Rex.", SATURDAY, category="relationship"))
    command = parse_explicit("Forget that I live in Lisbon")
    assert command is not None
    gone = facts.forget_matching(command.text)
    assert [f.statement for f in gone] == ["You live in Lisbon."]
    assert {f.statement for f in facts.current()} == {
        "Your sister lives in Lisbon.",
        "Your dog is called Rex.",
    }
    assert facts.forget_matching("my cat") == []


# -- forgetting ----------------------------------------------------------------------


def test_forget_leaves_no_text_in_any_table(
    store: Store, conversations: Conversations, psi_home: Path, database: str
) -> None:
    facts = Facts(store, user_id=conversations.user_id)
    facts.add(draft("You live in Zanzibar.", SATURDAY, key="home_city"))
    current = facts.add(draft("You live in Timbuktu.", WEDNESDAY, key="home_city")).fact
    kept = facts.add(draft("You play the oboe.", WEDNESDAY, category="preference")).fact
    profiles = Profiles(store, user_id=conversations.user_id)
    built = profiles.get().text
    assert "Timbuktu" in built and "oboe" in built
    profiles.set(built + "\nNotes: You once lived in Zanzibar. You like tea.")
    assert "Zanzibar" in all_rows(store) and "Timbuktu" in all_rows(store)

    assert facts.forget(current.id) == 2  # the fact and the version it superseded

    rows = all_rows(store)
    assert "Zanzibar" not in rows and "Timbuktu" not in rows
    assert [f.id for f in facts.all()] == [kept.id]
    assert profiles.get().text == "Likes and dislikes: You play the oboe.\nNotes: You like tea."
    if database != "sqlite":
        return  # PostgreSQL keeps no secure_delete: DESIGN.md says what forgetting means there
    # secure_delete: the bytes are gone from the file too, not just from the tables.
    with sqlite3.connect(psi_home / "psi.db") as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in psi_home.glob("psi.db*"):
        assert b"Timbuktu" not in path.read_bytes(), path.name
    with pytest.raises(NotFound):
        facts.get(current.id)
    with pytest.raises(NotFound):
        facts.forget(current.id)


def test_forget_all_and_forget_derived(store: Store, conversations: Conversations) -> None:
    messages = said(conversations, [("user", "I like tea."), ("user", "I like jazz.")], SATURDAY)
    facts = Facts(store, user_id=conversations.user_id)
    tea = draft("You like tea.", SATURDAY, source_message_ids=(messages[0].id,))
    jazz = draft("You like jazz.", SATURDAY, source_message_ids=(messages[1].id,))
    facts.add_all([tea, jazz])
    assert facts.forget_derived([messages[0].id]) == 1
    assert [f.statement for f in facts.current()] == ["You like jazz."]
    profiles = Profiles(store, user_id=conversations.user_id)
    profiles.set("About you: secret words")
    assert facts.forget_all() == 1
    assert facts.all() == []
    assert profiles.get().text == "" and not profiles.get().edited_by_user


def test_users_see_only_their_own_facts(store: Store) -> None:
    alice = Facts(store, user_id=store.ensure_user("alice"))
    bob = Facts(store, user_id=store.ensure_user("bob"))
    secret = alice.add(draft("You live in Zanzibar.", SATURDAY, key="home_city")).fact
    assert bob.current() == [] and bob.search("Zanzibar") == []
    with pytest.raises(NotFound):
        bob.get(secret.id)
    with pytest.raises(NotFound):
        bob.forget(secret.id)
    assert bob.forget_all() == 0
    # Bob's fact in the same slot does not supersede Alice's.
    bob.add(draft("You live in Oslo.", WEDNESDAY, key="home_city"))
    assert alice.get(secret.id).current


# -- reading, editing, export ------------------------------------------------------------


def test_search_and_edit(store: Store, conversations: Conversations) -> None:
    facts = Facts(store, user_id=conversations.user_id)
    facts.add(draft("Your dog is called Rex.", SATURDAY, category="relationship"))
    cat = facts.add(draft("Your cat is called Tom.", WEDNESDAY, category="relationship")).fact
    assert [f.statement for f in facts.search("what are my dogs called?")] == [
        "Your dog is called Rex.",
        "Your cat is called Tom.",
    ]
    assert facts.search("the") == []
    edited = facts.edit(cat.id, "your cat is called Thomas")
    assert edited.statement == "Your cat is called Thomas." and edited.origin == "edited"
    assert facts.edit(cat.id, category="preference").category == "preference"
    with pytest.raises(InputError):
        facts.edit(cat.id, "")
    with pytest.raises(InputError):
        facts.edit(cat.id, category="gossip")


def test_dump_and_load_round_trip_with_links(store: Store, conversations: Conversations) -> None:
    messages = said(conversations, [("user", "I moved from Lisbon to Porto.")], SATURDAY)
    facts = Facts(store, user_id=conversations.user_id)
    source = (messages[0].id,)
    facts.add(draft("You live in Lisbon.", SATURDAY, key="home_city", source_message_ids=source))
    facts.add(draft("You live in Porto.", WEDNESDAY, key="home_city", source_message_ids=source))
    dumped = json.loads(json.dumps(facts.dump()))

    restored = Facts(store, user_id=store.ensure_user("restored"))
    assert restored.load(dumped, message_ids={messages[0].id: 1234}) == 2
    lisbon, porto = restored.all()
    assert lisbon.superseded_by == porto.id and porto.current
    assert porto.source_message_ids == (1234,)
    assert [f.statement for f in restored.history(porto.id)] == [
        "You live in Lisbon.",
        "You live in Porto.",
    ]
    with pytest.raises(InputError):
        restored.load([{**dumped[0], "category": "gossip"}])
    with pytest.raises(InputError):
        restored.load([{**dumped[0], "valid_from": "yesterday"}])
    assert len(restored.all()) == 2  # a bad file changes nothing


# -- profile ---------------------------------------------------------------------------


def test_profile_is_built_from_current_facts_and_editable(
    store: Store, conversations: Conversations
) -> None:
    facts = Facts(store, user_id=conversations.user_id)
    facts.add(draft("You live in Lisbon.", SATURDAY, key="home_city"))
    facts.add(draft("You love jazz.", SATURDAY, category="preference"))
    facts.add(draft("Your sister is Grace.", SATURDAY, category="relationship"))
    facts.add(draft("You ran a marathon.", SATURDAY, category="event"))
    facts.add(draft("You live in Porto.", WEDNESDAY, key="home_city"))
    facts.add(explicit_draft("I am a nurse", at=SATURDAY))
    profiles = Profiles(store, user_id=conversations.user_id)

    profile = profiles.get()
    assert not profile.edited_by_user
    assert profile.text == (
        "About you: You live in Porto. You are a nurse.\n"
        "Likes and dislikes: You love jazz.\n"
        "People in your life: Your sister is Grace."
    )
    assert profile.text == build_profile(facts.all())  # history and events are left out

    profiles.set("  About you: call me Ada.  \n")
    assert profiles.get().text == "About you: call me Ada."
    assert profiles.get().edited_by_user
    assert profiles.rebuild().text == profile.text
    assert not profiles.get().edited_by_user
    with pytest.raises(InputError):
        profiles.set("x" * 5000)

    block = profile_block(profile.text)
    assert block is not None and block.endswith(profile.text) and "psi memory edit" in block
    assert profile_block("  ") is None


def test_profile_is_capped_and_puts_the_users_own_words_first(
    store: Store, conversations: Conversations
) -> None:
    facts = Facts(store, user_id=conversations.user_id)
    for n in range(40):
        facts.add(
            draft(
                f"You enjoy hobby number {n} quite a lot.",
                SATURDAY + timedelta(hours=n),
                category="preference",
            )
        )
    facts.add(explicit_draft("I am called Ada", at=SATURDAY - timedelta(days=30)))
    text = Profiles(store, user_id=conversations.user_id).get().text
    assert len(text.split()) <= 120 + 6  # the headings are extra
    assert text.startswith("About you: You are called Ada.")
    assert "number 39" in text and "number 0 " not in text  # newest first


# -- words and schema ------------------------------------------------------------------


def test_word_rules() -> None:
    assert words("I don't think it's Grace’s") == ["i", "do", "not", "think", "it", "grace"]
    assert {stem(w) for w in ("move", "moves", "moved", "moving")} == {"mov"}
    assert {stem(w) for w in ("run", "running", "runs")} == {"run"}
    assert content_stems("You live in the city of Lisbon") == {"liv", "city", "lisbon"}


def test_the_schema_asks_for_every_field_and_the_known_categories() -> None:
    schema = Extraction.model_json_schema()
    item = schema["$defs"]["ExtractedFact"]
    assert set(item["required"]) == set(item["properties"])
    assert item["properties"]["category"]["enum"] == list(CATEGORIES)
    assert schema["properties"]["facts"]["maxItems"] == MAX_FACTS_PER_REPLY
    assert "maxLength" not in json.dumps(schema)  # slow grammars on llama.cpp


@pytest.mark.filterwarnings("ignore:Did not recognize type 'vector'")
def test_migration_matches_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    mine = [d for d in diff if "facts" in repr(d) or "profiles" in repr(d)]
    assert mine == []


# -- the real embedded model -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.sqlite_only  # the model's part, not the database's: once is enough
def test_real_model_extracts_only_valid_facts(store: Store, conversations: Conversations) -> None:
    settings = load_settings()
    model = get_model(settings.profile("local"), settings)
    messages = said(
        conversations,
        [
            ("user", "I live in Lisbon and I work as a nurse. My dog is called Biscuit."),
            ("assistant", "Nice to meet you! Biscuit is a lovely name."),
            ("user", "Last Saturday I ran my first marathon."),
        ],
        WEDNESDAY,
    )
    # The default options but a long timeout: a busy machine slows llama.cpp's threads a lot.
    options = ChatOptions(
        max_tokens=EXTRACTION_TOKENS, temperature=0, schema_retries=1, timeout=600
    )
    drafts = extract_facts(model, messages, options=options)
    user_ids = {m.id for m in messages if m.role == "user"}
    said_text = " ".join(m.content for m in messages if m.role == "user")
    for d in drafts:  # may well be none: assert validity, not quantity
        assert d.category in CATEGORIES
        assert MIN_CONFIDENCE <= d.confidence <= 1
        assert d.source_message_ids and set(d.source_message_ids) <= user_ids
        stems = content_stems(d.statement)
        assert len(stems & content_stems(said_text)) >= len(stems) / 2
    facts = Facts(store, user_id=conversations.user_id)
    facts.add_all(drafts)
    assert len(facts.current()) <= len(drafts)
