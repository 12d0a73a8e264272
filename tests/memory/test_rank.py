"""psi.memory.rank's pure functions on small hand-made cases."""

from __future__ import annotations

from datetime import UTC, datetime

from psi.memory.rank import (
    DateMention,
    Item,
    expand_to_turns,
    named_speakers,
    propagate_neighbours,
    question_dates,
    rank,
    strip_names,
    window_text,
)


def test_named_speakers_full_names_prefixes_and_sentence_openers() -> None:
    people = ["Caroline", "Melanie", "Candice", "William", "Jon", "Jonathan"]
    assert named_speakers("What did Mel buy?", people) == ["Melanie"]
    assert named_speakers("Can you remind me what Caroline said?", people) == ["Caroline"]
    assert named_speakers("Will the meeting happen?", people) == []
    assert named_speakers("What did Jon say?", people) == ["Jon"]
    assert named_speakers("What did Jonathan say?", people) == ["Jonathan"]


def test_strip_names_and_question_dates() -> None:
    assert strip_names("What is Caroline's favourite book?", ["Caroline"]) == (
        "What is favourite book?"
    )
    assert question_dates("What happened on 7 July, 2023 and in May 2023?") == [
        DateMention(2023, 7, 7),
        DateMention(2023, 5, None),
    ]


def test_window_text_stays_in_its_session() -> None:
    speakers = ["A", "B", "A", "B"]
    texts = ["one", "two", "three", "four"]
    sessions = ["s1", "s1", "s2", "s2"]
    assert window_text(speakers, texts, sessions, 1, date="d") == "d: A: one B: two"


def items() -> dict[str, Item]:
    when = datetime(2023, 5, 8, tzinfo=UTC)
    return {
        "1": Item("1", "Did you go hiking?", "Mel", "s", 1, when, None, "2"),
        "2": Item("2", "Yes, up the ridge.", "Caroline", "s", 2, when, "1", "3"),
        "3": Item("3", "Nice.", "Mel", "s", 3, when, "2", None),
    }


def test_neighbours_lift_each_other_and_turns_expand_in_rank_order() -> None:
    lifted = propagate_neighbours({"1": 1.0}, items(), 0.3)
    assert lifted == {"1": 1.0, "2": 0.3}
    assert propagate_neighbours({"1": 1.0}, items(), 0.3, speaker="Caroline") == lifted
    assert propagate_neighbours({"2": 1.0}, items(), 0.3, speaker="Caroline") == {"2": 1.0}
    assert expand_to_turns(["2", "1", "2", "3"], items(), 2) == ["2", "1"]


def test_rank_prefers_the_named_speakers_turn() -> None:
    order = rank(
        "Where did Caroline go hiking?",
        ["Mel", "Caroline"],
        items(),
        bm25_scores={"1": 1.0, "2": 0.9},
        dense_scores={"1": 0.5, "2": 0.49, "3": 0.1},
    )
    # Near-equal matches: the turn by the person asked about comes first.
    assert order[0] == "2"
    unnamed = rank(
        "Where did they go hiking?",
        ["Mel", "Caroline"],
        items(),
        bm25_scores={"1": 1.0, "2": 0.9},
        dense_scores={"1": 0.5, "2": 0.49, "3": 0.1},
    )
    assert unnamed[0] == "1"


def two_sessions() -> dict[str, Item]:
    when = datetime(2023, 5, 8, tzinfo=UTC)
    later = datetime(2023, 6, 2, tzinfo=UTC)
    return {
        "a1": Item("a1", "What are you painting?", "Mel", "a", 1, when, None, "a2"),
        "a2": Item("a2", "A sunset over the lake.", "Caroline", "a", 2, when, "a1", "a3"),
        "a3": Item("a3", "Lovely painting!", "Mel", "a", 3, when, "a2", None),
        "b1": Item("b1", "I painted my dog too.", "Caroline", "b", 4, later, None, "b2"),
        "b2": Item("b2", "Cute!", "Mel", "b", 5, later, "b1", None),
    }


def test_a_question_about_one_person_reaches_their_other_statements() -> None:
    bm25 = {"a2": 1.0, "a3": 0.5, "b1": 0.5}
    dense = {"a2": 0.7, "a3": 0.45, "b1": 0.4, "a1": 0.2, "b2": 0.2}
    people = ["Mel", "Caroline"]
    # The reply next to Caroline's best match is not lifted past her statement in another
    # session: a list question needs that one too.
    named = rank("What has Caroline painted?", people, two_sessions(), bm25, dense)
    assert named[:3] == ["a2", "b1", "a3"]
    # Asked about no one in particular, the neighbour lift applies to every turn.
    unnamed = rank("What has been painted?", people, two_sessions(), bm25, dense)
    assert unnamed[:3] == ["a2", "a3", "b1"]
