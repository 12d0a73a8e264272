"""The model seam's shared behaviour, exercised through the scripted model."""

from __future__ import annotations

import threading

import pytest
from pydantic import BaseModel

from psi.errors import BadModelOutput, ModelError, ModelTimeout
from psi.llm import ChatOptions, Message, Reply, ToolCall, ToolSpec
from psi.llm.base import extract_json, tool_protocol_schema
from psi.llm.scripted import ScriptedModel


class Goal(BaseModel):
    title: str
    weeks: int


SEARCH = ToolSpec(
    name="search_notes",
    description="Search the user's notes.",
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
    },
)


def test_stream_yields_deltas_that_add_up_to_the_reply() -> None:
    model = ScriptedModel(["The capital of France is Paris."])
    stream = model.stream([Message.user("Capital of France?")])
    pieces = list(stream)
    assert len(pieces) > 3
    assert "".join(pieces) == stream.reply.text == "The capital of France is Paris."
    assert stream.reply.finish_reason == "stop"
    assert stream.reply.usage.completion_tokens == len(pieces)
    assert model.calls[0].messages[-1].content == "Capital of France?"


def test_max_tokens_cuts_the_reply_and_says_so() -> None:
    model = ScriptedModel(["one two three four five"])
    reply = model.chat([Message.user("count")], options=ChatOptions(max_tokens=2))
    assert reply.text == "one two "
    assert reply.finish_reason == "length"


def test_structured_output_retries_with_the_validation_error() -> None:
    model = ScriptedModel(
        ['Sure! Here it is: {"title": "Run"}', '```json\n{"title": "Run", "weeks": 40}\n```']
    )
    reply = model.chat([Message.user("plan a marathon")], schema=Goal)
    assert reply.parsed == Goal(title="Run", weeks=40)
    # The first answer lacked `weeks`; the model was told exactly that.
    retry = model.calls[1].messages[-1].content
    assert "weeks" in retry and "Field required" in retry
    # Without native schema support, the schema was put in the prompt.
    assert '"weeks"' in model.calls[0].messages[0].content


def test_structured_output_gives_up_with_a_clear_error() -> None:
    model = ScriptedModel(["no", "still no", "nope"])
    with pytest.raises(BadModelOutput) as caught:
        model.chat([Message.user("x")], schema=Goal)
    assert "after 3 tries" in caught.value.message
    assert len(model.calls) == 3


def test_native_schema_backends_get_the_schema_not_an_instruction() -> None:
    model = ScriptedModel(['{"title": "Read", "weeks": 2}'], supports_schema=True)
    assert model.structured([Message.user("x")], Goal).weeks == 2
    assert model.calls[0].json_schema == Goal.model_json_schema()
    assert model.calls[0].messages == [Message.user("x")]


def test_json_tool_protocol_lets_a_model_without_tools_call_one() -> None:
    model = ScriptedModel(['{"tool": "search_notes", "arguments": {"query": "passport"}}'])
    reply = model.chat([Message.user("where is my passport?")], tools=[SEARCH])
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls[0].name == "search_notes"
    assert reply.tool_calls[0].arguments == {"query": "passport"}
    assert "search_notes" in model.calls[0].messages[0].content


def test_json_tool_protocol_answers_and_retries_unknown_tools() -> None:
    model = ScriptedModel(
        ['{"tool": "delete_everything", "arguments": {}}', '{"answer": "In the drawer."}']
    )
    reply = model.chat([Message.user("where?")], tools=[SEARCH])
    assert reply.text == "In the drawer."
    assert reply.tool_calls == []
    assert "unknown tool" in model.calls[1].messages[-1].content


def test_tool_results_are_rendered_as_text_for_models_without_tools() -> None:
    model = ScriptedModel(['{"answer": "It is in the drawer."}'])
    call = ToolCall(id="c1", name="search_notes", arguments={"query": "passport"})
    history = [
        Message.user("where is my passport?"),
        Message.assistant("", [call]),
        Message.tool("passport: top drawer", tool_call_id="c1", name="search_notes"),
    ]
    assert model.chat(history, tools=[SEARCH]).text == "It is in the drawer."
    sent = model.calls[0].messages
    assert sent[2].role == "assistant" and '"search_notes"' in sent[2].content
    assert sent[3].role == "user" and "top drawer" in sent[3].content


def test_native_tools_pass_through() -> None:
    call = ToolCall(id="c1", name="search_notes", arguments={"query": "tax"})
    scripted = Reply(message=Message.assistant("", [call]), finish_reason="tool_calls")
    model = ScriptedModel([scripted], supports_tools=True)
    reply = model.chat([Message.user("tax?")], tools=[SEARCH])
    assert reply.tool_calls == [call]
    assert model.calls[0].tools == [SEARCH]


def test_protocol_schema_allows_each_tool_or_an_answer() -> None:
    schema = tool_protocol_schema([SEARCH])
    assert schema["anyOf"][0]["properties"]["tool"] == {"const": "search_notes"}
    assert schema["anyOf"][-1]["required"] == ["answer"]


def test_extract_json_skips_prose_and_broken_braces() -> None:
    assert extract_json('I think {not json} but {"a": [1, 2]} is') == {"a": [1, 2]}
    with pytest.raises(ValueError):
        extract_json("no json here")


def test_cancel_event_stops_the_stream_and_keeps_the_partial_text() -> None:
    cancel = threading.Event()
    model = ScriptedModel(["one two three four five six"])
    stream = model.stream([Message.user("count")], options=ChatOptions(cancel=cancel))
    seen = []
    for piece in stream:
        seen.append(piece)
        if len(seen) == 2:
            cancel.set()
    assert stream.reply.text == "one two "
    assert stream.reply.finish_reason == "interrupted"


def test_interrupt_after_breaking_out_keeps_partial_text() -> None:
    model = ScriptedModel(["one two three four"])
    stream = model.stream([Message.user("count")])
    for piece in stream:
        assert piece == "one "
        break
    reply = stream.interrupt()
    assert reply.text == "one "
    assert reply.finish_reason == "interrupted"


def test_timeout_raises_with_the_model_name() -> None:
    model = ScriptedModel(["slow " * 20], chunk_delay=0.02)
    with pytest.raises(ModelTimeout) as caught:
        model.chat([Message.user("x")], options=ChatOptions(timeout=0.05))
    assert "'scripted'" in caught.value.message


def test_empty_script_says_what_to_do_or_echoes() -> None:
    with pytest.raises(ModelError) as caught:
        ScriptedModel().chat([Message.user("x")])
    assert "no reply left" in caught.value.message
    assert ScriptedModel(fallback="echo").chat([Message.user("hi")]).text == "You said: hi"


def test_messages_round_trip_losslessly() -> None:
    call = ToolCall(id="c1", name="search_notes", arguments={"query": "x", "n": [1, 2]})
    message = Message.assistant("text", [call])
    assert Message.model_validate(message.model_dump()) == message
    assert Message.model_validate_json(message.model_dump_json()) == message


def test_a_configured_scripted_model_keeps_only_its_latest_calls() -> None:
    # A scripted profile can answer a long-running psi serve: its record of calls stays
    # bounded, newest last, while a model built in a test keeps every call.
    from psi.config import Backend, ModelProfile, Settings
    from psi.llm.scripted import KEPT_CALLS

    profile = ModelProfile(name="demo", backend=Backend.scripted, model="demo", local=True)
    served = ScriptedModel.from_profile(profile, Settings())
    built = ScriptedModel(fallback="echo")
    for i in range(KEPT_CALLS + 50):
        served.chat([Message.user(f"turn {i}")])
        built.chat([Message.user(f"turn {i}")])
    assert len(served.calls) == KEPT_CALLS
    assert served.calls[-1].messages[-1].content == f"turn {KEPT_CALLS + 49}"
    assert served.calls[0].messages[-1].content == "turn 50"
    assert len(built.calls) == KEPT_CALLS + 50
