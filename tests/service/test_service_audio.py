"""Calls as audio through the service: a stereo WAV upload, an MP3 by URL on loopback and a
``none-mono`` call are each stored before anything is fetched or transcribed, transcribed
offline (the bundled Whisper base, one model per session), judged by the scripted judge and
read back through our ``voice_recording_url`` (whole, and by byte range). Failures:
``test_service_audio_failures.py``.

SQLite only (``database_url`` below): the store's recording code is plain SQL that the
suite's other tests run on PostgreSQL too (intake, schema, the 0005 migration)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from evaluator.ingest.audio import AudioLimits, transcribe_call
from evaluator.transcript import AGENT, CALLER
from tests.ingest.audio.loopback import loopback
from tests.ingest.audio.synth import tone_wav
from tests.service.audio_calls import GREETING, Run, audio_call, posted, said_by, serve
from tests.service.calls import OBSERVE, V1, as_form
from tests.service.conftest import HEADERS

PHONE_WORDS = ("four one five", "415", "2671", "two six seven one")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'evaluator.db'}"


@pytest.mark.slow
async def test_a_stereo_wav_upload_is_transcribed_judged_and_streamed_back(
    run_audio: Run, stereo_wav: bytes
) -> None:
    files = {"voice_recording": ("call.wav", stereo_wav, "audio/wav")}
    form = as_form(audio_call("wav-upload", main_agent_channel_index="0"))
    async with run_audio() as running:
        done = await posted(
            running, await running.client.post(OBSERVE, data=form, files=files, headers=HEADERS)
        )
        url = done["voice_recording_url"]
        whole = await running.client.get(url, headers=HEADERS)
        head = await running.client.get(url, headers={**HEADERS, "Range": "bytes=0-99"})
        tail = await running.client.get(url, headers={**HEADERS, "Range": "bytes=-10"})
        past = await running.client.get(
            url, headers={**HEADERS, "Range": f"bytes={len(stereo_wav)}-"}
        )
        nonsense = await running.client.get(url, headers={**HEADERS, "Range": "bytes=9-3"})
        unauthenticated = await running.client.get(url)
        judged = [str(r.messages) for r in running.judge.requests]
    assert done["evaluation_status"] == "evaluated", done["error_message"]
    assert GREETING in said_by(done, AGENT) and GREETING not in said_by(done, CALLER)
    assert done["duration"] == "00:25" or done["duration"].startswith("00:")
    assert any(GREETING in text.lower() for text in judged)  # judged on our transcript
    latency = next(m for m in done["evaluation"]["metrics"] if m["slug"] == "latency_avg")
    assert latency["extra"]["source"] == "audio"
    assert url.endswith(f"{V1}{done['id']}/voice_recording/")
    assert whole.status_code == 200 and whole.content == stereo_wav
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    assert head.status_code == 206 and head.content == stereo_wav[:100]
    assert head.headers["content-range"] == f"bytes 0-99/{len(stereo_wav)}"
    assert tail.status_code == 206 and tail.content == stereo_wav[-10:]
    for refused in (past, nonsense):
        assert refused.status_code == 416
        assert refused.headers["content-range"] == f"bytes */{len(stereo_wav)}"
    assert unauthenticated.status_code == 401


@pytest.mark.slow
async def test_main_agent_channel_index_swaps_the_roles(
    run_audio: Run, stereo_wav: bytes, swapped_wav: bytes
) -> None:
    """The agent on channel 0, said so; then the same file said to have it on channel 1:
    the parties trade places. And the agent on channel 1, said so: as the first."""
    async with run_audio() as running:
        details = []
        for name, audio, index in (("c0", stereo_wav, "0"), ("c0-as-1", stereo_wav, "1"),
                                   ("c1", swapped_wav, "1")):  # fmt: skip
            form = as_form(audio_call(name, main_agent_channel_index=index))
            files = {"voice_recording": (f"{name}.wav", audio, "audio/wav")}
            response = await running.client.post(OBSERVE, data=form, files=files, headers=HEADERS)
            details.append(await posted(running, response))
    as_said, swapped, other_file = details
    assert GREETING in said_by(as_said, AGENT) and GREETING in said_by(swapped, CALLER)
    assert said_by(swapped, AGENT) == said_by(as_said, CALLER)
    assert said_by(other_file, AGENT) == said_by(as_said, AGENT)
    assert (as_said["testing_channel_index"], swapped["testing_channel_index"]) == (1, 0)


@pytest.mark.slow
async def test_an_mp3_by_url_is_fetched_by_the_worker_and_kept_once(
    run_audio: Run, stereo_mp3: bytes
) -> None:
    with loopback() as server:
        serve(server, "/rec/call.mp3", stereo_mp3, "audio/mpeg")
        async with run_audio() as running:
            body = audio_call("mp3-url", voice_recording_url=server.url("/rec/call.mp3"))
            done = await posted(
                running, await running.client.post(OBSERVE, json=body, headers=HEADERS)
            )
            again = await running.client.get(done["voice_recording_url"], headers=HEADERS)
            # A re-evaluation reads what the recording said: no second download.
            del server.routes["/rec/call.mp3"]
            rerun = await running.client.post(
                f"{V1}rerun_evaluation/", json={"agent_id": 1, "call_logs": [done["id"]]},
                headers=HEADERS,
            )  # fmt: skip
            rerun_done = await running.wait_finished(done["id"])
    assert done["evaluation_status"] == "evaluated", done["error_message"]
    assert GREETING in said_by(done, AGENT)
    assert done["testing_channel_index"] == 1  # the agent's channel, detected: 0
    assert again.status_code == 200 and again.content == stereo_mp3
    assert again.headers["content-type"] == "audio/mpeg"
    assert [s.path for s in server.seen] == ["/rec/call.mp3"]
    assert rerun.status_code == 200 and rerun_done["evaluation_status"] == "evaluated"
    assert rerun_done["transcript"] == done["transcript"]


@pytest.mark.slow
async def test_a_none_mono_call_is_split_into_two_voices(run_audio: Run, mono_wav: bytes) -> None:
    form = as_form(audio_call("mono", transcript_type="none-mono"))
    files = {"voice_recording": ("mono.wav", mono_wav, "audio/wav")}
    async with run_audio() as running:
        done = await posted(
            running, await running.client.post(OBSERVE, data=form, files=files, headers=HEADERS)
        )
        back = await running.client.get(done["voice_recording_url"], headers=HEADERS)
    assert done["evaluation_status"] == "evaluated", done["error_message"]
    assert "city bank" in said_by(done, AGENT) and "debit card" in said_by(done, CALLER)
    assert any("mono" in note for note in done["notes"]), done["notes"]
    assert done["testing_channel_index"] is None
    assert back.content == mono_wav


@pytest.mark.slow
async def test_a_redacted_upload_is_stored_silenced_and_never_whole(
    run_audio: Run, stereo_wav: bytes, whisper: Any, tmp_path: Path
) -> None:
    form = as_form(audio_call("redacted", redact_fields='["phone_number"]'))
    files = {"voice_recording": ("call.wav", stereo_wav, "audio/wav")}
    async with run_audio() as running:
        done = await posted(
            running, await running.client.post(OBSERVE, data=form, files=files, headers=HEADERS)
        )
        stored = await running.client.get(done["voice_recording_url"], headers=HEADERS)
        judged = " ".join(str(r.messages) for r in running.judge.requests).lower()
    assert done["evaluation_status"] == "evaluated", done["error_message"]
    assert "<PHONE_NUMBER>" in done["transcript"]
    assert stored.headers["content-type"] == "audio/flac" and stored.content != stereo_wav
    # The unredacted upload was never written: no blob holds its bytes.
    kept = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "blobs").rglob("*")
            if p.is_file()}  # fmt: skip
    assert hashlib.sha256(stereo_wav).hexdigest() not in kept
    # What is kept, transcribed again, no longer says the number.
    again = transcribe_call(stored.content, agent_channel=0, mono=False, stt=whisper,
                            limits=AudioLimits()).transcript.to_text().lower()  # fmt: skip
    assert "phone number" in again  # the words around it survive
    assert not any(words in again for words in PHONE_WORDS), again
    assert not any(words in judged for words in PHONE_WORDS)


async def test_a_recording_beside_a_transcript_gives_the_timing(
    run_audio: Run, stereo_wav: bytes, booking_request: dict[str, Any]
) -> None:
    body = {**booking_request, "call_id": "with-transcript"}
    form = as_form(body)
    files = {"voice_recording": ("call.wav", stereo_wav, "audio/wav")}
    async with run_audio() as running:
        response = await running.client.post(OBSERVE, data=form, files=files, headers=HEADERS)
        done = await posted(running, response, audio_only=False)
    latency = next(m for m in done["evaluation"]["metrics"] if m["slug"] == "latency_avg")
    assert done["evaluation_status"] == "evaluated", done["error_message"]
    assert latency["extra"]["source"] == "audio"
    assert "riley" in done["transcript"].lower()  # the call's own transcript stays its text
    assert any("agent channel" in note.lower() or "channel" in note for note in done["notes"])


def _transcript_of(lines: list[tuple[str, str]]) -> list[dict[str, Any]]:
    roles = {"agent": "Main Agent", "caller": "Testing Agent"}
    return [{"role": roles[party], "content": text} for party, text in lines]


@pytest.mark.slow
async def test_transcription_accuracy_flags_a_transcript_that_misheard_the_caller(
    run_audio: Run, stereo_wav: bytes, short_call: Any
) -> None:
    """The call's own transcript as the script says, and one where the agent's STT misheard
    three of the caller's lines: ours of the recording agrees with the first, not the
    second, and only the second is flagged."""
    faithful = [(line.party, line.text) for line in short_call.lines]
    misheard = [
        (party, {"Hi, I would like to book a cleaning for next week.":
                 "Hi, I would like to cancel a filling for last month.",
                 "Tuesday works.": "Thursday walks.",
                 "No, that is all.": "Now that is tall."}.get(text, text))
        for party, text in faithful
    ]  # fmt: skip
    results = []
    async with run_audio(transcription_check=True) as running:
        for name, lines in (("faithful", faithful), ("misheard", misheard)):
            body = audio_call(name, transcript_json=json.dumps(_transcript_of(lines)))
            files = {"voice_recording": ("call.wav", stereo_wav, "audio/wav")}
            response = await running.client.post(
                OBSERVE, data=as_form(body), files=files, headers=HEADERS
            )
            done = await posted(running, response, audio_only=False)
            results.append(
                next(
                    m
                    for m in done["evaluation"]["metrics"]
                    if m["slug"] == "transcription_accuracy"
                )
            )
        # Without the check, a call with a transcript is only measured: not applicable.
    faithful_wer, misheard_wer = (r["score"] for r in results)
    assert faithful_wer is not None and misheard_wer is not None
    assert faithful_wer < 20 < misheard_wer  # 9 of the caller's ~40 words changed
    assert results[0]["extra"]["misheard"] is False and results[1]["extra"]["misheard"] is True
    pairs = results[1]["extra"]["differences"]
    # Whisper may hear a neighbouring word differently ("book a" / "look at"): the pair
    # holding the swapped word is what must be there.
    assert any("cleaning" in p["recording"] and "filling" in p["transcript"] for p in pairs), pairs


async def test_transcription_accuracy_is_not_applicable_unless_the_recording_was_transcribed(
    run_audio: Run, stereo_wav: bytes, booking_request: dict[str, Any]
) -> None:
    body = {**booking_request, "call_id": "measured-only"}
    form = as_form(body)
    files = {"voice_recording": ("call.wav", stereo_wav, "audio/wav")}
    async with run_audio() as running:
        response = await running.client.post(OBSERVE, data=form, files=files, headers=HEADERS)
        done = await posted(running, response, audio_only=False)
    accuracy = next(
        m for m in done["evaluation"]["metrics"] if m["slug"] == "transcription_accuracy"
    )
    assert accuracy["score"] is None and accuracy["outcome"] == "not_applicable"
    assert "EVALUATOR_TRANSCRIPTION_CHECK" in " ".join(accuracy["explanation"])


async def test_a_recording_is_kept_once_and_goes_with_the_last_call_that_holds_it(
    run_audio: Run, booking_request: dict[str, Any], tmp_path: Path
) -> None:
    tone = tone_wav()
    blob = tmp_path / "blobs" / hashlib.sha256(tone).hexdigest()[:2]
    pks = []
    async with run_audio() as running:
        for name in ("first", "second"):
            body = {**booking_request, "call_id": name}
            form = as_form(body)
            files = {"voice_recording": ("tone.wav", tone, "audio/wav")}
            response = await running.client.post(OBSERVE, data=form, files=files, headers=HEADERS)
            pks.append((await posted(running, response, audio_only=False))["id"])
        stored_once = [p.name for p in blob.iterdir()]
        await running.client.delete(f"{V1}{pks[0]}/", headers=HEADERS)
        kept = [p.name for p in blob.iterdir()]
        gone = await running.client.get(f"{V1}{pks[0]}/voice_recording/", headers=HEADERS)
        await running.client.post(
            f"{V1}delete_call_logs/", json={"call_logs": [pks[1]]}, headers=HEADERS
        )
        left = list(blob.iterdir())
    assert stored_once == kept == [hashlib.sha256(tone).hexdigest()]
    assert gone.status_code == 404 and gone.json() == {"detail": "Not found."}
    assert left == []


async def test_a_held_upload_that_cannot_be_redacted_fails_the_call_with_the_reason(
    run_audio: Run, tmp_path: Path
) -> None:
    """A tone passes intake's check but holds no speech to transcribe: the redaction in the
    receiving process fails, keeps nothing, and the call fails saying why."""
    form = as_form(audio_call("tone", redact_fields='["phone_number"]'))
    files = {"voice_recording": ("tone.wav", tone_wav(), "audio/wav")}
    async with run_audio() as running:
        response = await running.client.post(OBSERVE, data=form, files=files, headers=HEADERS)
        done = await posted(running, response)
    assert done["evaluation_status"] == "failed"
    assert "no speech" in done["error_message"] and "post the call again" in done["error_message"]
    assert done["voice_recording_url"] == ""
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
