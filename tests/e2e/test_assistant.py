"""End-to-end: the real servers, simulated users from ../shared/eval and our own set, persistence, privacy."""
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest

from .conftest import ROOT, SHARED_EVAL

# Our own simulated users: the first set written before tuning, two more written blind later.
OWN_VIGNETTES = sorted((ROOT / "tests" / "vignettes").glob("*.yaml"))


def simulate(bot, vignettes, tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(SHARED_EVAL / "simulate.py"), "--url", bot.url, str(vignettes),
                           "--token", bot.token, "--json", str(out)], capture_output=True, text=True, timeout=1800)
    print(proc.stdout[-6000:])
    passed, failed = map(int, re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.M).groups())
    summary = proc.stdout.strip().splitlines()[-2]
    return passed, failed, summary, json.loads(out.read_text())


def say(bot, sender, text):
    req = urllib.request.Request(bot.q("/webhooks/rest/webhook"),
                                 json.dumps({"sender": sender, "message": text}).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"[]")


def slots(bot, sender):
    with urllib.request.urlopen(bot.q(f"/conversations/{sender}/tracker"), timeout=30) as resp:
        return json.loads(resp.read())["slots"]


@pytest.mark.skipif(not (SHARED_EVAL / "public_vignettes.yaml").exists(), reason="../shared/eval is not beside the repo")
def test_public_vignettes_all_pass(bot, tmp_path):
    passed, failed, summary, _ = simulate(bot, SHARED_EVAL / "public_vignettes.yaml", tmp_path)
    assert failed == 0, summary


@pytest.mark.skipif(not (SHARED_EVAL / "simulate.py").exists(), reason="../shared/eval is not beside the repo")
@pytest.mark.parametrize("vignettes", OWN_VIGNETTES, ids=[p.stem for p in OWN_VIGNETTES])
def test_own_vignettes_pass_at_least_95_percent(bot, tmp_path, vignettes):
    passed, failed, summary, results = simulate(bot, vignettes, tmp_path)
    assert passed + failed >= 50
    assert passed / (passed + failed) >= 0.95, summary
    emergencies = [r for r in results if r["expect"].get("urgency") == ["emergency"]]
    assert all(r["urgency"] == "emergency" for r in emergencies), "an emergency was missed"
    others = [r for r in results if r["expect"].get("urgency") and "emergency" not in r["expect"]["urgency"]]
    over = sum(r["urgency"] == "emergency" for r in others)
    assert over <= 0.02 * len(others), f"over-triage to emergency {over}/{len(others)}"
    assert all(r["screened"] for r in results if r["urgency"] == "self_care"), "self-care verdict without a screen"


def test_contract_slots_are_null_until_the_verdict(bot):
    sender = f"contract-{uuid.uuid4().hex[:8]}"
    reply = say(bot, sender, "tight lower back after deadlifts")
    assert [b["title"] for b in reply[0]["buttons"]][0] == "While lifting"
    assert (slots(bot, sender)["triage_category"], slots(bot, sender)["triage_urgency"]) == (None, None)
    say(bot, sender, "While lifting")
    assert slots(bot, sender)["triage_category"] is None
    reply = say(bot, sender, "No, none of these")
    assert "not a diagnosis" in reply[0]["text"]
    assert (slots(bot, sender)["triage_category"], slots(bot, sender)["triage_urgency"]) == ("pump", "self_care")


def test_a_warning_sign_after_the_verdict_escalates(bot):
    sender = f"late-flag-{uuid.uuid4().hex[:8]}"
    for text in ["sore lower back the day after squats", "getting better", "No, none of these"]:
        say(bot, sender, text)
    assert slots(bot, sender)["triage_urgency"] == "self_care"
    say(bot, sender, "oh and now both my legs feel weak")
    assert (slots(bot, sender)["triage_category"], slots(bot, sender)["triage_urgency"]) == ("emergency", "emergency")


@pytest.mark.parametrize("text", ["", "   ", "🙂" * 50, "x" * 4000, "/restart", "/describe_symptom{\"x\": 1}",
                                  "<script>alert(1)</script>", "{\"json\": true}"])
def test_odd_input_gets_an_answer_and_the_conversation_goes_on(bot, text):
    sender = f"odd-{uuid.uuid4().hex[:8]}"
    say(bot, sender, "tight lower back after deadlifts")
    if text.strip():
        say(bot, sender, text)  # no crash (urlopen raises on 5xx)
    else:  # an empty message is a client error: 400 with a short JSON error, never a 500
        with pytest.raises(urllib.error.HTTPError) as refused:
            say(bot, sender, text)
        assert refused.value.code == 400 and "error" in json.loads(refused.value.read())
    reply = say(bot, sender, "While lifting")
    assert reply, "the assistant stopped answering"


def test_start_over_clears_the_verdict(bot):
    sender = f"restart-{uuid.uuid4().hex[:8]}"
    for text in ["hurt my back and I can't control my bladder"]:
        say(bot, sender, text)
    assert slots(bot, sender)["triage_category"] == "emergency"
    reply = say(bot, sender, "start over")
    assert "starting over" in reply[0]["text"].lower()
    assert slots(bot, sender)["triage_category"] is None


def test_conversation_survives_a_server_restart_and_logs_keep_no_message_text(bot):
    sender = f"persist-{uuid.uuid4().hex[:8]}"
    secret = "zebra-crossing-tight-back"
    say(bot, sender, f"tight lower back after deadlifts {secret}")
    say(bot, sender, "While lifting")
    bot.restart_rasa()
    reply = say(bot, sender, "No, none of these")  # the interview resumes where it was
    assert "Most likely" in reply[0]["text"]
    assert slots(bot, sender)["triage_category"] == "pump"
    logs = (bot.workdir / "rasa.log").read_text() + (bot.workdir / "actions.log").read_text()
    assert secret not in logs


def test_a_question_in_reply_to_the_screen_is_not_a_no(bot):
    sender = f"screen-q-{uuid.uuid4().hex[:8]}"
    say(bot, sender, "tight lower back after deadlifts")
    say(bot, sender, "While lifting")
    reply = " ".join(m.get("text") or "" for m in say(bot, sender, "so it's not a disc?"))
    assert slots(bot, sender)["triage_category"] is None
    assert "groin" in reply.lower()  # the warning signs are asked again
    say(bot, sender, "No, none of these")
    assert slots(bot, sender)["triage_category"] == "pump"


def test_only_asking_for_someone_else_stops_the_check_without_a_verdict(bot):
    sender = f"just-asking-{uuid.uuid4().hex[:8]}"
    say(bot, sender, "my lower back is sore")
    reply = say(bot, sender, "oh it's not me, I'm asking for my dad")
    assert "no check needed" in reply[0]["text"].lower()
    assert (slots(bot, sender)["triage_category"], slots(bot, sender)["triage_urgency"]) == (None, None)


def test_a_sign_revealed_only_when_the_screen_asks_escalates(bot):
    sender = f"hidden-{uuid.uuid4().hex[:8]}"
    say(bot, sender, "mid back is sore after a crazy crossfit class yesterday")
    say(bot, sender, "The next day or later")
    say(bot, sender, "about the same")
    say(bot, sender, "now that you mention it my pee is brown like coke")
    assert (slots(bot, sender)["triage_category"], slots(bot, sender)["triage_urgency"]) == ("emergency", "emergency")


def followups(summary: str) -> tuple:
    passed, total = map(int, re.search(r"follow-up checks passed (\d+)/(\d+)", summary).groups())
    return passed, total


@pytest.mark.skipif(not (SHARED_EVAL / "public_after.yaml").exists(), reason="../shared/eval is not beside the repo")
def test_public_follow_ups_all_pass(bot, tmp_path):
    passed, failed, _, results = simulate(bot, SHARED_EVAL / "public_after.yaml", tmp_path)
    assert failed == 0, [r["after_failed"] for r in results if not r["ok"]]


@pytest.mark.skipif(not (SHARED_EVAL / "simulate.py").exists(), reason="../shared/eval is not beside the repo")
def test_blind_follow_ups_pass_at_least_95_percent_of_steps(bot, tmp_path):
    vignettes = ROOT / "tests" / "vignettes" / "after" / "after_blind_vignettes.yaml"
    proc = subprocess.run([sys.executable, str(SHARED_EVAL / "simulate.py"), "--url", bot.url, str(vignettes),
                           "--token", bot.token], capture_output=True, text=True, timeout=1800)
    passed, total = followups(proc.stdout)
    assert total >= 90 and passed / total >= 0.95, proc.stdout[-4000:]
