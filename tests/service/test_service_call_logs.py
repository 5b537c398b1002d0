"""Cekura's call-log routes, v1 and v2: list filters, PATCH with every field, deletion, votes,
filter values and export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from evaluator.judge.scripted import ScriptedJudge
from evaluator.store.votes import VoteStore
from tests.service.calls import OBSERVE, V1, V2, ids, listed, post_evaluated
from tests.service.conftest import HEADERS, RunApp, call_detail, call_log, metric_of


async def test_v1_and_v2_serve_the_same_call_logs(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        pk = await post_evaluated(running, booking_request)
        one = [(await running.client.get(f"{base}{pk}/", headers=HEADERS)).json()
               for base in (V1, V2)]  # fmt: skip
        pages = [await listed(running, base) for base in (V1, V2)]
    assert one[0] == one[1] and call_detail(one[1]).id == pk
    assert pages[0]["results"] == pages[1]["results"] and pages[1]["count"] == 1


async def test_list_filters_by_agent_ids_project_review_and_metric_conditions(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        catalogue = running.service.definitions.catalogue
        goal = catalogue.metric("call_goal_achieved").number
        running.judge.answers.update({"call_goal_achieved": False, "sentiment": "negative"})
        failed = await post_evaluated(running, booking_request, call_id="c0")
        running.judge.answers.update({"call_goal_achieved": True, "sentiment": "positive"})
        fine = await post_evaluated(running, booking_request, call_id="c1")
        by_assistant = {k: v for k, v in booking_request.items() if k != "agent"}
        other = await post_evaluated(running, by_assistant, call_id="c2",
                                     assistant_id="asst_bright_smile_01")  # fmt: skip
        both = {"operator": "and", "conditions": [
            {"field": "metric:sentiment", "op": "in", "value": ["negative", "neutral"]},
            {"field": "success", "op": "eq", "value": False}]}  # fmt: skip
        seen = {
            "agent": ids(await listed(running, agent_id=1)),
            "agent2": ids(await listed(running, agent_id=2)),
            "assistant": ids(await listed(running, assistant_id="asst_bright_smile_01")),
            "call_ids": ids(await listed(running, call_ids=f"{failed},{other}")),
            "project1": ids(await listed(running, project_id=1)),
            "project2": ids(await listed(running, project_id=2)),
            "negative": ids(await listed(running, metric="sentiment:eq:negative")),
            "passed": ids(await listed(running, metric=f"{goal}:eq:5")),
            "latency": ids(await listed(running, metric="latency_avg:gte:0")),
            "v2": ids(await listed(running, filters_v2=json.dumps(both))),
            "failure": ids(await listed(running, status="failure")),
            "success": ids(await listed(running, status="success", success="true")),
            "reviewed": ids(await listed(running, is_reviewed="true")),
        }
        bad = {
            name: (await running.client.get(V2, params=params, headers=HEADERS))
            for name, params in {
                "assistant_id": {"assistant_id": "asst_nobody"},
                "call_ids": {"call_ids": "1,abc"},
                "metric": {"metric": "sentiment:gt:1"},
                "filters_v2": {"filters_v2": json.dumps({**both, "operator": "or"})},
                "surprise": {"surprise": "1"},
            }.items()
        }
    newest_first = [other, fine, failed]
    assert seen["agent"] == seen["assistant"] == seen["project1"] == newest_first
    assert seen["agent2"] == seen["project2"] == seen["reviewed"] == []
    assert seen["call_ids"] == [other, failed]
    assert seen["negative"] == seen["v2"] == seen["failure"] == [failed]
    assert seen["passed"] == seen["success"] == [other, fine]
    assert seen["latency"] == newest_first
    for name, response in bad.items():
        assert response.status_code == 400 and name in response.json(), (name, response.text)


async def test_patch_takes_every_field_of_patched_update_call_log(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    corrected = [
        {"role": "bot", "message": "Bright Smile Dental, Riley speaking.", "secondsFromStart": 0.5,
         "duration": 2000},
        {"role": "user", "message": "I'd like a check-up on Tuesday.", "secondsFromStart": 3.0,
         "duration": 2500},
    ]  # fmt: skip
    change = {
        "call_id": "renamed-call",
        "transcript_json": corrected,  # no transcript_type: detected (vapi)
        "timestamp": "2026-12-01T09:00:00Z",
        "duration": 1.5,  # minutes
        "call_ended_reason": "agent-ended-call",
        "customer_number": "+15550001",
        "metadata": {"segment": "new patient"},
        "dynamic_variables": {"today": "Tuesday"},
        "status": "reviewed_success",
        "feedback": "transcript fixed by hand",
        "reevaluate_metrics": True,
        "topic": "ours to set",  # not PatchedUpdateCallLog's: ignored
    }
    async with run_app() as running:
        pk = await post_evaluated(running, booking_request)
        patched = await running.client.patch(f"{V2}{pk}/", json=change, headers=HEADERS)
        assert patched.status_code == 200, patched.text
        done = call_detail(await running.wait_finished(pk))
        cleared = await running.client.patch(
            f"{V1}{pk}/", data={"status": "", "feedback": "kept"}, headers=HEADERS
        )
    body = call_detail(patched.json())
    assert body.call_id == "renamed-call" and body.duration == "01:30"
    assert body.timestamp is not None and body.timestamp.isoformat().startswith("2026-12-01T09")
    assert (body.call_ended_reason, body.customer_number) == ("agent-ended-call", "+15550001")
    assert body.metadata == {**booking_request["metadata"], "segment": "new patient"}
    assert body.dynamic_variables == {**booking_request["dynamic_variables"], "today": "Tuesday"}
    assert body.user_generated_transcript == corrected
    assert body.transcript.startswith("[00:00] Main Agent: Bright Smile Dental, Riley speaking.")
    assert (body.status, body.feedback, body.is_reviewed) == (
        "reviewed_success",
        "transcript fixed by hand",
        True,
    )
    assert body.topic != "ours to set"
    prompt = json.dumps(running.judge.requests[-1].messages)
    assert "check-up on Tuesday" in prompt and done.evaluation_status == "evaluated"
    assert cleared.status_code == 200 and call_detail(cleared.json()).feedback == "kept"


async def test_a_call_being_evaluated_is_left_alone_with_409(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app(judge=ScriptedJudge(latency_seconds=0.5)) as running:
        posted = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        pk = posted.json()["id"]
        busy = await running.client.patch(
            f"{V2}{pk}/", json={"metadata": {"x": 1}}, headers=HEADERS
        )
        again = await running.client.patch(
            f"{V2}{pk}/", json={"reevaluate_metrics": True}, headers=HEADERS
        )
        review = await running.client.patch(
            f"{V2}{pk}/", json={"status": "reviewed_failure"}, headers=HEADERS
        )
        await running.wait_finished(pk)
        later = await running.client.patch(
            f"{V2}{pk}/", json={"metadata": {"x": 1}}, headers=HEADERS
        )
    for response in (busy, again):
        assert response.status_code == 409 and "being evaluated" in response.json()["detail"]
    assert review.status_code == 200 and review.json()["status"] == "reviewed_failure"
    assert later.status_code == 200 and later.json()["metadata"]["x"] == 1


async def test_delete_one_or_many_with_or_without_their_evaluations(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        gone, kept, bulk = [
            await post_evaluated(running, booking_request, call_id=f"d{n}") for n in range(3)
        ]
        vote = {"metric_id": "sentiment", "thumbs_up": True, "expected_value": None}
        await running.client.post(f"{V2}{kept}/mark_metric_vote/", json=vote, headers=HEADERS)
        deleted = await running.client.delete(f"{V2}{gone}/", headers=HEADERS)
        retained = await running.client.delete(
            f"{V1}{kept}/", params={"retain_evaluations": "true"}, headers=HEADERS
        )
        reads = [await running.client.get(f"{V2}{pk}/", headers=HEADERS) for pk in (gone, kept)]
        reposted = await running.client.post(
            OBSERVE, json={**booking_request, "call_id": "d1"}, headers=HEADERS
        )
        refused = await running.client.post(
            f"{V2}delete_call_logs/", json={"call_logs": [bulk, 999]}, headers=HEADERS
        )
        still = await running.client.get(f"{V2}{bulk}/", headers=HEADERS)
        # Of a stored call: the call in the path is checked first (a 404 otherwise).
        odd = await running.client.delete(f"{V2}{bulk}/", params={"force": 1}, headers=HEADERS)
        done = await running.client.post(
            f"{V2}delete_call_logs/", data={"call_logs": str(bulk)}, headers=HEADERS
        )
        left = await listed(running)
        votes = VoteStore(running.service.store).of_agent(1)
    assert deleted.status_code == retained.status_code == done.status_code == 204
    assert [r.status_code for r in reads] == [404, 404]
    assert reposted.status_code == 201  # a deleted call's call_id is free again
    assert refused.status_code == 400 and "999" in refused.json()["call_logs"][0]
    assert still.status_code == 200
    assert odd.status_code == 400 and "force" in odd.json()
    assert ids(left) == [reposted.json()["id"]]
    assert [v.call_pk for v in votes] == [kept]  # kept with its evaluations


async def test_a_vote_on_a_metric_is_stored_and_marks_the_call_reviewed(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        pk = await post_evaluated(running, booking_request)
        sentiment = running.service.definitions.catalogue.metric("sentiment").number
        vote = {"metric_id": sentiment, "thumbs_up": False, "expected_value": "negative",
                "feedback": "the caller was annoyed"}  # fmt: skip
        by_id = await running.client.post(f"{V2}{pk}/mark_metric_vote/", json=vote, headers=HEADERS)
        by_form = await running.client.post(
            f"{V1}{pk}/mark_metric_vote/",
            data={"metric_id": "call_goal_achieved", "thumbs_up": "true", "expected_value": ""},
            headers=HEADERS,
        )
        unknown = await running.client.post(
            f"{V2}{pk}/mark_metric_vote/", json={**vote, "metric_id": 999}, headers=HEADERS
        )
        missing = await running.client.post(
            f"{V2}{pk}/mark_metric_vote/", json={"metric_id": sentiment}, headers=HEADERS
        )
        detail = call_detail((await running.client.get(f"{V2}{pk}/", headers=HEADERS)).json())
        votes = VoteStore(running.service.store).of_call(pk)
    assert by_id.status_code == 200 and "sentiment" in by_id.json()["detail"]
    assert by_form.status_code == 200
    assert detail.is_reviewed and detail.status == "success"
    assert [(v.metric_id, v.thumbs_up, v.expected_value, v.feedback) for v in votes] == [
        ("sentiment", False, "negative", "the caller was annoyed"),
        ("call_goal_achieved", True, None, None),
    ]
    assert votes[0].machine_value == metric_of(detail, "sentiment").value
    assert unknown.status_code == 400 and "metric_id" in unknown.json()
    assert missing.status_code == 400 and set(missing.json()) == {"thumbs_up", "expected_value"}


async def test_filter_values_and_the_streamed_export(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        running.judge.answers["sentiment"] = "negative"
        first = await post_evaluated(running, booking_request, call_id="e0")
        running.judge.answers["sentiment"] = "positive"
        second = await post_evaluated(running, booking_request, call_id="e1")
        values = (await running.client.get(f"{V2}filters/", headers=HEADERS)).json()
        as_csv = await running.client.get(
            f"{V2}export_call_logs/", params={"agent_id": 1}, headers=HEADERS
        )
        as_json = await running.client.get(
            f"{V1}export_call_logs/", params={"format": "json", "call_ids": str(first)},
            headers=HEADERS,
        )  # fmt: skip
        bad = await running.client.get(
            f"{V2}export_call_logs/", params={"page": 2}, headers=HEADERS
        )
        numbers = running.service.definitions.catalogue.numbers()
    assert values["agents"] == [{"id": 1, "name": "Bright Smile Dental booking line"}]
    assert values["statuses"] == ["success"] and values["topics"] == ["book appointment"]
    sentiment = next(m for m in values["metrics"] if m["slug"] == "sentiment")
    assert sentiment == {"id": numbers["sentiment"], "slug": "sentiment",
                         "name": "Caller sentiment", "type": "enum"}  # fmt: skip
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(r["id"]) for r in rows] == [second, first]
    assert [r["metric:sentiment"] for r in rows] == ["positive", "negative"]
    assert rows[0]["success"] == "true" and rows[0]["status"] == "success"
    exported = as_json.json()
    assert [call_log(item).id for item in exported] == [first]
    assert bad.status_code == 400 and "page" in bad.json()


async def test_evaluate_metrics_and_rerun_take_cekuras_bodies(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        pk = await post_evaluated(running, booking_request)
        by_assistant = await running.client.post(
            f"{V2}rerun_evaluation/",
            json={"assistant_id": "asst_bright_smile_01", "call_logs": [pk]},
            headers=HEADERS,
        )
        await running.wait_finished(pk)
        form = await running.client.post(
            f"{V1}evaluate_metrics/",
            data={"call_logs": f"[{pk}]", "metrics": "sentiment,csat"},
            headers=HEADERS,
        )
        await running.wait_finished(pk)
        no_agent = await running.client.post(
            f"{V2}rerun_evaluation/", json={"call_logs": "all"}, headers=HEADERS
        )
        project = await running.client.post(
            f"{V2}evaluate_metrics/",
            json={"project_id": 7, "call_logs": [pk], "metrics": [1]},
            headers=HEADERS,
        )
    assert by_assistant.status_code == 200 and call_detail(by_assistant.json()[0]).id == pk
    assert form.status_code == 200, form.text
    assert [call_log(c).id for c in form.json()] == [pk]
    assert no_agent.status_code == 400 and "agent_id" in no_agent.json()
    assert project.status_code == 400 and "project_id" in project.json()
