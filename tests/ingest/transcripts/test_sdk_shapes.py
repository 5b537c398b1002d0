"""Transcripts as the SDKs and Cekura's own examples really send them: LiveKit agents-js's
``ChatContext.toJSON()`` (camelCase), a Retell custom-function request whose
``transcript_with_tool_calls`` lags behind, Vapi's end-of-call-report with OpenAI-formatted
``messages`` under ``message``, and Cekura's simplified ``{role, message, time}`` items."""

from __future__ import annotations

from typing import Any

from evaluator.ingest.transcripts import detect_format, parse_transcript
from evaluator.transcript import AGENT, CALLER, TOOL_CALL, TOOL_RESULT

T0_MS = 1_760_520_142_000  # epoch ms
T0 = T0_MS / 1000


def spans(name: str, payload: Any) -> list[tuple[str, str, float | None, float | None]]:
    turns = parse_transcript(name, payload).turns
    return [(t.role, t.content or (t.data.name or "") if t.data else t.content, t.start_time,
             t.end_time) for t in turns]  # fmt: skip


# agents-js: createdAt in epoch ms, metrics in epoch seconds, camelCase keys.
AGENTS_JS = {
    "items": [
        {"id": "item_s", "type": "message", "role": "system", "content": ["Be brief."],
         "interrupted": False, "createdAt": T0_MS},
        {"id": "item_a", "type": "message", "role": "assistant", "content": ["Hi, Riverside clinic."],
         "interrupted": False, "createdAt": T0_MS + 500,
         "metrics": {"startedSpeakingAt": T0 + 0.6, "stoppedSpeakingAt": T0 + 2.1}},
        {"id": "item_u", "type": "message", "role": "user",
         "content": [{"type": "audio_content", "transcript": "Book a flu shot."}],
         "interrupted": False, "createdAt": T0_MS + 4000},
        {"id": "item_c", "type": "function_call", "callId": "call_1", "name": "list_slots",
         "args": "{\"day\": \"mon\"}", "createdAt": T0_MS + 4500},
        {"id": "item_o", "type": "function_call_output", "callId": "call_1", "name": "list_slots",
         "output": "Error: calendar down", "isError": True, "replyRequired": True,
         "createdAt": T0_MS + 5000},
        {"id": "item_x", "type": "agent_config_update", "toolsAdded": ["x"], "createdAt": T0_MS + 5100},
        {"id": "item_h", "type": "agent_handoff", "newAgentId": "booking", "createdAt": T0_MS + 5200},
    ]
}  # fmt: skip


def test_livekit_agents_js_to_json_camel_case() -> None:
    transcript = parse_transcript("livekit", AGENTS_JS)
    assert spans("livekit", AGENTS_JS) == [
        (AGENT, "Hi, Riverside clinic.", 0.6, 2.1),
        (CALLER, "Book a flu shot.", 4.0, 4.0),
        (TOOL_CALL, "list_slots", 4.5, 4.5),
        (TOOL_RESULT, "list_slots", 5.0, 5.0),
    ]
    call, result = transcript.turns[2].data, transcript.turns[3].data
    assert call is not None and call.id == "call_1" and call.arguments == '{"day": "mon"}'
    assert (
        result is not None and result.is_error is True and result.result == "Error: calendar down"
    )
    assert transcript.context == "Be brief."
    assert transcript.notes == ("livekit: agent handoff from none to booking",)
    assert detect_format(AGENTS_JS) == "livekit"


def test_livekit_python_snake_case_reads_the_same() -> None:
    snake = {"items": [
        {"type": "message", "role": "system", "content": ["Be brief."], "created_at": T0},
        {"type": "message", "role": "assistant", "content": ["Hi, Riverside clinic."],
         "created_at": T0 + 0.5, "metrics": {"started_speaking_at": T0 + 0.6,
                                             "stopped_speaking_at": T0 + 2.1}},
        {"type": "message", "role": "user", "content": ["Book a flu shot."], "created_at": T0 + 4},
        {"type": "function_call", "call_id": "call_1", "name": "list_slots",
         "arguments": "{\"day\": \"mon\"}", "created_at": T0 + 4.5},
        {"type": "function_call_output", "call_id": "call_1", "name": "list_slots",
         "output": "Error: calendar down", "is_error": True, "created_at": T0 + 5},
    ]}  # fmt: skip
    assert spans("livekit", snake) == spans("livekit", AGENTS_JS)


def _words(text: str, start: float) -> list[dict[str, Any]]:
    return [{"word": text, "start": start, "end": start + 1.0}]


def test_retell_function_request_merges_tool_calls_into_the_fuller_transcript() -> None:
    hello = {"role": "agent", "content": "Hello.", "words": _words("Hello.", 0.5)}
    want = {"role": "user", "content": "Table for two.", "words": _words("Table", 2.0)}
    check = {"role": "agent", "content": "Checking.", "words": _words("Checking.", 4.0)}
    late = {"role": "user", "content": "Thanks!", "words": _words("Thanks!", 9.0)}
    invoke = {"role": "tool_call_invocation", "tool_call_id": "t1", "name": "availability",
              "arguments": "{}"}  # fmt: skip
    result = {"role": "tool_call_result", "tool_call_id": "t1", "content": "7pm"}
    request = {
        "name": "book_table",
        "args": {"party": 2},
        "call": {
            "call_id": "c1",
            "transcript_object": [hello, want, check, late],
            "transcript_with_tool_calls": [hello, want, invoke, result, check],  # lags behind
        },
    }
    parsed = parse_transcript("retell", request)
    assert [(t.role, t.start_time) for t in parsed.turns] == [
        (AGENT, 0.5), (CALLER, 2.0), (TOOL_CALL, 3.0), (TOOL_RESULT, 3.0), (AGENT, 4.0),
        (CALLER, 9.0),
    ]  # fmt: skip
    assert parsed.turns[3].data is not None and parsed.turns[3].data.name == "availability"
    assert "merged" in parsed.notes[0]
    # When the richer list is complete it is read as it is.
    request["call"]["transcript_object"] = [hello]
    assert len(parse_transcript("retell", request).turns) == 5


def test_vapi_end_of_call_report_with_openai_messages_under_message_is_detected() -> None:
    body = {"message": {
        "type": "end-of-call-report",
        "endedReason": "customer-ended-call",
        "call": {"id": "call-9"},
        "messages": [
            {"role": "system", "content": "You are Alex.", "time": T0_MS},
            {"role": "assistant", "content": "Hi, Alex here.", "time": T0_MS + 1000,
             "duration": 1500},
            {"role": "user", "content": "My balance?", "time": T0_MS + 3000,
             "endTime": T0_MS + 4200},
            {"role": "assistant", "content": None, "time": T0_MS + 4500,
             "tool_calls": [{"id": "t1", "type": "function",
                             "function": {"name": "getBalance", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t1", "name": "getBalance", "content": "12.50",
             "time": T0_MS + 5000},
        ],
    }}  # fmt: skip
    assert detect_format(body) == "vapi"
    parsed = parse_transcript("auto", body)
    assert spans("vapi", body) == [
        (AGENT, "Hi, Alex here.", 1.0, 2.5),
        (CALLER, "My balance?", 3.0, 4.2),
        (TOOL_CALL, "getBalance", 4.5, 4.5),
        (TOOL_RESULT, "getBalance", 5.0, 5.0),
    ]
    assert parsed.context == "You are Alex."


def test_cekuras_simplified_shapes_keep_their_times_under_vapi_and_retell() -> None:
    """Cekura's documented examples: ``{"role": "agent"|"user", "message", "time"}`` with
    ``time`` in seconds from the call's start."""
    items = [
        {"role": "agent", "message": "Hello, how can I help?", "time": 0.0},
        {"role": "user", "message": "I need to reschedule.", "time": 2.5},
    ]
    expected = [
        (AGENT, "Hello, how can I help?", 0.0, 0.0),
        (CALLER, "I need to reschedule.", 2.5, 2.5),
    ]
    assert spans("vapi", items) == expected
    assert spans("retell", items) == expected
