"""Table-driven tests of the triage engine (pure Python, fed with findings)."""
import pytest

from backcheck.triage.engine import Case, TriageEngine, default_engine


def f(key, negated=False, number=None, context=None):
    kind, value = key.split(":")
    return {"kind": kind, "value": value, "negated": negated, "number": number,
            "context": context or ("denied" if negated else "present")}


def sev(n):
    return {"kind": "severity", "value": "number", "number": n, "negated": False}


def days(n):
    return {"kind": "elapsed", "value": "number", "number": n, "negated": False}


CLEAR = f("screen:clear")

# (findings, category, urgency)
VERDICTS = [
    ([f("sensation:tight"), f("onset:during"), CLEAR], "pump", "self_care"),
    ([f("sensation:pumped"), f("sensation:full"), f("onset:right_after"), CLEAR], "pump", "self_care"),
    ([f("sensation:tight"), f("onset:during"), f("trend:resolved"), CLEAR], "pump", "self_care"),
    ([f("sensation:burning"), f("sensation:weak"), f("onset:during"), CLEAR], "muscle_fatigue", "self_care"),
    ([f("sensation:tired"), f("onset:during"), CLEAR], "muscle_fatigue", "self_care"),
    ([f("sensation:burning"), f("trend:resolved"), CLEAR], "muscle_fatigue", "self_care"),
    ([f("sensation:sore"), f("sensation:stiff"), f("onset:delayed"), CLEAR], "doms", "self_care"),
    ([f("sensation:stiff"), f("onset:delayed"), f("trend:improving"), CLEAR], "doms", "self_care"),
    ([f("sensation:tight"), f("onset:delayed"), CLEAR], "doms", "self_care"),
    ([f("sensation:sharp"), f("onset:sudden"), CLEAR], "acute_injury", "see_professional"),
    ([f("sensation:pop"), CLEAR], "acute_injury", "see_professional"),
    ([f("sensation:tweak"), f("sensation:localized"), CLEAR], "acute_injury", "see_professional"),
    ([f("sensation:sharp"), f("onset:sudden"), sev(9), CLEAR], "acute_injury", "urgent"),
    ([f("sensation:spasm"), f("sensation:tweak"), CLEAR], "acute_injury", "urgent"),
    ([f("sensation:sharp"), f("onset:during"), f("sensation:tight"), CLEAR], "acute_injury", "see_professional"),
    ([f("sensation:sore"), f("onset:during"), sev(8), f("sensation:localized"), CLEAR], "acute_injury", "see_professional"),
    # nerve involvement
    ([f("red_flag:tingling"), f("sensation:sore")], "nerve_involvement", "urgent"),
    ([f("red_flag:radiating"), f("onset:delayed")], "nerve_involvement", "urgent"),
    ([f("red_flag:numbness"), f("sensation:tight"), f("onset:during")], "nerve_involvement", "urgent"),
    ([f("red_flag:limb_weakness")], "nerve_involvement", "urgent"),
    ([f("red_flag:unspecified")], "nerve_involvement", "urgent"),
    # emergencies win over everything
    ([f("red_flag:bladder_bowel"), f("sensation:tight"), f("onset:during")], "emergency", "emergency"),
    ([f("red_flag:saddle_numbness")], "emergency", "emergency"),
    ([f("red_flag:bilateral_legs"), f("red_flag:tingling")], "emergency", "emergency"),
    ([f("red_flag:trauma")], "emergency", "emergency"),
    ([f("red_flag:fever"), f("sensation:sore"), f("onset:delayed")], "emergency", "emergency"),
    ([f("red_flag:chest_pain")], "emergency", "emergency"),
    ([f("red_flag:dark_urine"), f("sensation:pumped")], "emergency", "emergency"),
    # negation: a denied warning sign is not a warning sign
    ([f("sensation:tight"), f("onset:during"), f("red_flag:numbness", True), f("red_flag:tingling", True)], "pump", "self_care"),
    ([f("sensation:sharp"), f("onset:sudden"), f("red_flag:bladder_bowel", True)], "acute_injury", "see_professional"),
    # ...but saying it later outweighs the denial
    ([f("red_flag:numbness", True), f("sensation:tight"), f("red_flag:numbness")], "nerve_involvement", "urgent"),
    # only the user's own present findings count
    ([f("sensation:tight"), f("onset:during"), f("red_flag:radiating", context="past"), CLEAR], "pump", "self_care"),
    ([f("sensation:tight"), f("onset:during"), f("red_flag:saddle_numbness", context="other_person"), CLEAR], "pump", "self_care"),
    ([f("sensation:sore"), f("onset:delayed"), f("red_flag:trauma", context="figurative"), CLEAR], "doms", "self_care"),
    ([f("sensation:sore"), f("onset:delayed"), f("red_flag:radiating", context="hypothetical"), CLEAR], "doms", "self_care"),
    # "worse today than yesterday" on day 2 of DOMS is its peak; on day 5, or for a strain, it is worsening
    ([f("sensation:sore"), f("onset:delayed"), days(2), f("trend:peaking"), CLEAR], "doms", "self_care"),
    ([f("sensation:sore"), f("onset:delayed"), days(5), f("trend:peaking"), CLEAR], "doms", "see_professional"),
    ([f("sensation:sharp"), f("onset:sudden"), f("trend:peaking"), CLEAR], "acute_injury", "see_professional"),
    ([f("sensation:tight"), f("onset:during"), f("trend:peaking"), CLEAR], "pump", "see_professional"),
    # the warning signs could not be ruled out: the underlying category, and a prompt check
    ([f("sensation:tight"), f("onset:during"), f("screen:unclear")], "pump", "urgent"),
    # persistent or worsening goes to a professional whatever the category
    ([f("sensation:sore"), f("onset:delayed"), days(14), CLEAR], "doms", "see_professional"),
    ([f("sensation:tight"), f("onset:during"), f("trend:worsening"), CLEAR], "pump", "see_professional"),
    ([f("sensation:sore"), days(7), CLEAR], "doms", "see_professional"),
    ([f("sensation:sore"), days(3), CLEAR], "doms", "self_care"),
    ([f("sensation:tight"), days(10), f("trend:resolved"), CLEAR], "pump", "self_care"),
    ([f("red_flag:radiating"), days(20)], "nerve_involvement", "urgent"),
    # no evidence at all: the cautious default
    ([CLEAR], "doms", "self_care"),
]


@pytest.mark.parametrize("findings,category,urgency", VERDICTS)
def test_verdict(findings, category, urgency):
    verdict = default_engine().assess(findings)
    assert (verdict.category, verdict.urgency) == (category, urgency)


# (findings, open questions)
INTERVIEW = [
    ([], ["onset", "sensation", "course", "screen"]),
    ([f("sensation:tight")], ["onset", "course", "screen"]),
    ([f("sensation:pain")], ["onset", "sensation", "course", "screen"]),
    ([f("onset:during"), f("sensation:burning")], ["screen"]),
    # how long and better or worse: asked for DOMS or a strain, not for a pump of the session
    ([f("onset:delayed"), f("sensation:sore")], ["course", "screen"]),
    ([f("onset:delayed"), f("sensation:sore"), days(2)], ["screen"]),
    ([f("onset:sudden"), f("sensation:sharp"), f("trend:unchanged")], ["screen"]),
    ([f("onset:sudden"), f("sensation:sharp")], ["course", "screen"]),
    # denying nerve signs leaves the emergency signs to ask about, and the other way round
    ([f("onset:during"), f("sensation:burning"), f("red_flag:numbness", True)], ["screen"]),
    ([f("onset:during"), f("sensation:burning"), f("red_flag:fever", True)], ["screen"]),
    ([f("onset:during"), f("sensation:burning"), f("red_flag:numbness", True), f("red_flag:bladder_bowel", True)], ["screen"]),
    ([f("onset:during"), f("sensation:burning"), f("red_flag:numbness", True), f("red_flag:bladder_bowel", True),
      f("red_flag:fever", True)], []),
    ([f("onset:during"), f("sensation:burning"), CLEAR], []),
    ([f("red_flag:trauma")], []),
    ([f("sensation:tight"), f("red_flag:tingling")], []),
    ([f("sensation:sharp", True)], ["onset", "sensation", "course", "screen"]),
]


@pytest.mark.parametrize("findings,questions", INTERVIEW)
def test_open_questions(findings, questions):
    engine = default_engine()
    assert engine.open_questions(Case.from_findings(findings)) == questions


def test_screen_gaps_name_the_groups_still_open():
    engine = default_engine()
    gaps = lambda *found: engine.screen_gaps(Case.from_findings(found))  # noqa: E731
    assert gaps(f("red_flag:tingling", True)) == ["cauda_equina", "trauma_fever"]
    assert gaps(f("red_flag:trauma", True)) == ["one_limb", "cauda_equina"]
    assert gaps(CLEAR) == []
    # "maybe a bit tingly?" leaves its group open though numbness was denied
    assert gaps(f("red_flag:numbness", True), f("red_flag:tingling", context="uncertain")) == [
        "one_limb", "cauda_equina", "trauma_fever"]
    # the chest after upper or mid back pain, the urine after an extreme workout: even when the rest is denied
    denied_rest = [f("red_flag:numbness", True), f("red_flag:bladder_bowel", True), f("red_flag:fever", True)]
    assert gaps(f("region:upper_back"), *denied_rest) == ["chest"]
    assert gaps(f("region:ribs"), *denied_rest) == ["chest"]
    assert gaps(f("cause:extreme_workout"), *denied_rest) == ["urine"]
    assert gaps(f("sensation:extreme_sore"), f("region:mid_back"), *denied_rest) == ["chest", "urine"]
    assert gaps(f("region:lower_back"), *denied_rest) == []


def test_evidence_and_text():
    verdict = default_engine().assess([f("sensation:tight"), f("onset:during"), f("red_flag:numbness", True),
                                       f("cause:rounded_back"), sev(3)])
    assert verdict.evidence[:2] == ["tight", "during sets"]
    assert "; ".join(verdict.evidence).endswith("no numbness")
    assert "no numbness" in verdict.evidence
    assert "3/10" in verdict.evidence
    text = verdict.as_markdown()
    assert "not a diagnosis" in text
    assert "neutral spine" in text  # advice for the cause the user mentioned
    assert "diagnosed" not in text.lower()


def test_emergency_text_says_act_now():
    verdict = default_engine().assess([f("red_flag:saddle_numbness")])
    assert "emergency" in verdict.as_markdown().lower()
    assert verdict.evidence == ["numbness in the groin or saddle area"]


def test_persistent_note():
    verdict = default_engine().assess([f("sensation:sore"), days(14), CLEAR])
    assert verdict.persistent and "14 days" in verdict.evidence
    assert "about a week or more" in verdict.get_help


def test_knowledge_files_are_consistent():
    engine = TriageEngine()
    cats = set(engine.table["categories"])
    assert set(engine.advice["categories"]) == cats
    assert set(engine.table["urgency"]) == cats
    assert set(engine.table["urgency"].values()) <= set(engine.table["urgencies"])
    for weights in engine.table["weights"].values():
        assert set(weights) <= cats
    assert set(engine.advice["get_help"]) == set(engine.table["urgencies"])


def test_a_correction_wins_but_a_warning_sign_is_not_talked_down():
    corrected = [f("sensation:sore"), f("onset:delayed"), CLEAR, f("onset:delayed", True), f("sensation:sharp"),
                 f("onset:sudden")]
    assert default_engine().assess(corrected).category == "acute_injury"
    flag_then_denied = [f("sensation:tight"), f("red_flag:numbness"), f("red_flag:numbness", True)]
    assert default_engine().assess(flag_then_denied).category == "nerve_involvement"


@pytest.mark.parametrize("findings,urgency", [
    ([f("sensation:sore"), f("onset:delayed"), days(2), f("trend:worsening"), CLEAR], "self_care"),   # day 2: the peak
    ([f("sensation:sore"), f("onset:delayed"), f("trend:peaking"), CLEAR], "self_care"),            # "than yesterday"
    ([f("sensation:sore"), f("onset:delayed"), days(9), f("trend:worsening"), CLEAR], "see_professional"),
    ([f("sensation:sore"), f("onset:delayed"), f("trend:worsening"), CLEAR], "see_professional"),  # day unknown
])
def test_worse_doms_is_its_peak_only_in_its_first_days(findings, urgency):
    assert default_engine().assess(findings).urgency == urgency


def test_worse_doms_of_unknown_day_asks_how_long():
    case = Case.from_findings([f("sensation:sore"), f("onset:delayed"), f("trend:worsening")])
    assert "course" in default_engine().open_questions(case)


def test_the_evidence_never_contradicts_the_verdict():
    verdict = default_engine().assess([f("sensation:sore"), f("sensation:stiff"), f("onset:right_after"),
                                       f("sensation:tight"), CLEAR])
    assert verdict.category == "doms"
    assert "right after training" not in verdict.evidence and "tight" not in verdict.evidence
    assert verdict.evidence[:2] == ["sore or achy", "stiff"]


def test_the_latest_trend_is_the_trend_and_a_changed_verdict_says_so_in_words():
    verdict = default_engine().assess([f("sensation:sore"), f("onset:delayed"), f("trend:improving"), days(4),
                                       CLEAR, {**f("trend:worsening"), "turn": 3}])
    assert verdict.urgency == "see_professional" and "easing with movement" not in verdict.evidence
    assert "worth seeing a doctor or physio" in verdict.as_markdown(previous=("doms", "self_care"))


def test_one_message_with_two_trends_keeps_both():
    # "getting worse every day instead of better": worse counts
    same_turn = [f("sensation:sore"), f("onset:delayed"), days(5), f("trend:worsening"), f("trend:improving"), CLEAR]
    assert default_engine().assess(same_turn).urgency == "see_professional"
