"""Table-driven tests of the spaCy symptom extractor: what is found, and what is denied."""
import pytest

from backcheck.nlu.extractor import SpellingNormaliser, _within_one_edit, default_extractor

# (text, must be present, must be denied, must be absent altogether)
CASES = [
    # plain descriptions
    ("tight lower back after deadlifts", {"sensation:tight", "region:lower_back", "exercise:deadlift"}, set(), {"onset:right_after"}),
    ("lower back gets really tight and full during my deadlift sets", {"sensation:tight", "sensation:full", "onset:during"}, set(), set()),
    ("my lower back is burning and feels weak on the last reps of my rows", {"sensation:burning", "sensation:weak", "onset:during", "exercise:row"}, set(), {"red_flag:limb_weakness"}),
    ("my back is really sore and stiff today, I did squats two days ago", {"sensation:sore", "sensation:stiff", "onset:delayed", "exercise:squat"}, set(), set()),
    ("felt a sharp pain on the left side of my lower back on a heavy deadlift rep", {"sensation:sharp", "sensation:localized", "onset:sudden"}, set(), set()),
    ("woke up the next morning and my erectors were killing me", {"onset:delayed", "region:lower_back"}, set(), set()),
    ("it came on about 36 hours after the session", {"onset:delayed"}, set(), set()),
    ("sore 48 hours later", {"sensation:sore", "onset:delayed"}, set(), set()),
    ("during my sets", {"onset:during"}, set(), set()),
    ("Right after training", {"onset:right_after"}, set(), set()),
    ("The next day or later", {"onset:delayed"}, set(), set()),
    ("Suddenly, on one rep", {"onset:sudden"}, set(), set()),
    ("Tight or pumped", {"sensation:tight", "sensation:pumped"}, set(), set()),
    ("Burning or tired", {"sensation:burning", "sensation:tired"}, set(), set()),
    ("Sore and stiff", {"sensation:sore", "sensation:stiff"}, set(), set()),
    ("Sharp or stabbing", {"sensation:sharp"}, set(), set()),
    # gym slang
    ("my erectors are fried after rack pulls", {"region:lower_back", "sensation:tired", "exercise:deadlift"}, set(), set()),
    ("tweaked my QL on a PR attempt", {"sensation:tweak", "region:lower_back", "cause:load_jump"}, set(), set()),
    ("lats are pumped af from pendlay rows", {"region:lats", "sensation:pumped", "exercise:row"}, set(), set()),
    ("DOMS in my lower back from RDLs", {"sensation:sore", "exercise:rdl"}, set(), set()),
    ("back is cooked after good mornings", {"sensation:tired", "exercise:good_morning"}, set(), set()),
    ("crazy pump in my lower back on hypers", {"sensation:pumped", "exercise:hyperextension"}, set(), set()),
    ("threw my back out and now it's locked up", {"sensation:tweak", "sensation:spasm"}, set(), set()),
    ("felt something pop in my back on a clean", {"sensation:pop", "exercise:olympic"}, set(), set()),
    ("my lower back is gassed", {"sensation:tired"}, set(), set()),
    # typos
    ("my erecters feel tite and pumpd", {"region:lower_back", "sensation:tight", "sensation:pumped"}, set(), set()),
    ("tingeling down my leg after squats", {"red_flag:tingling"}, set(), set()),
    ("lowr bak is realy sore after dedlifts", {"sensation:sore", "exercise:deadlift"}, set(), set()),
    ("numbnes in my groin", {"red_flag:saddle_numbness"}, set(), set()),
    ("stif and achy the nxt day", {"sensation:stiff", "sensation:sore"}, set(), set()),
    # negation
    ("no numbness or tingling, just tight", {"sensation:tight"}, {"red_flag:numbness", "red_flag:tingling"}, set()),
    ("sharp lower back pain but no numbness, no tingling and no pain in my legs", {"sensation:sharp"}, {"red_flag:numbness", "red_flag:tingling", "red_flag:radiating"}, set()),
    ("Yes, tingling down the leg, but my bladder is fine and no numbness in the groin.", {"red_flag:tingling"}, {"red_flag:bladder_bowel", "red_flag:saddle_numbness"}, set()),
    ("it's not sharp, it's more of a dull ache", {"sensation:sore"}, {"sensation:sharp"}, set()),
    ("nothing going down my legs", set(), {"red_flag:radiating"}, set()),
    ("I don't have any numbness, tingling or weakness", set(), {"red_flag:numbness", "red_flag:tingling"}, set()),
    ("no fever, no bladder problems, didn't fall", set(), {"red_flag:fever", "red_flag:bladder_bowel", "red_flag:trauma"}, set()),
    ("never had numbness before but now my foot is numb", {"red_flag:numbness"}, set(), set()),
    ("zero tingling, legs are fine", set(), {"red_flag:tingling"}, {"red_flag:bilateral_legs"}),
    ("not sure why but my back is sharp on one side", {"sensation:sharp"}, set(), set()),
    ("No, none of those.", set(), set(), {"red_flag:numbness"}),
    ("bladder and bowels are normal", set(), {"red_flag:bladder_bowel"}, set()),
    ("no leg pain at all, but I can't pee", {"red_flag:bladder_bowel"}, {"red_flag:radiating"}, set()),
    # warning signs
    ("after hurting my back lifting I suddenly can't control my bladder", {"red_flag:bladder_bowel", "onset:sudden"}, set(), set()),
    ("I haven't been able to pee since this morning", {"red_flag:bladder_bowel"}, set(), set()),
    ("my groin feels numb", {"red_flag:saddle_numbness"}, set(), set()),
    ("weakness in both legs", {"red_flag:bilateral_legs"}, set(), set()),
    ("both my legs went numb", {"red_flag:bilateral_legs"}, set(), set()),
    ("my left leg is weak and my foot drags", {"red_flag:limb_weakness"}, set(), set()),
    ("pain shooting down my right leg", {"red_flag:radiating"}, set(), set()),
    ("burning pain from my lower back into my buttock and down the back of my thigh", {"red_flag:radiating"}, set(), set()),
    ("pins and needles in my calf", {"red_flag:tingling"}, set(), set()),
    ("sciatica flaring after squats", {"red_flag:radiating"}, set(), set()),
    ("I fell off the box during box jumps", {"red_flag:trauma"}, set(), set()),
    ("the bar came down on my back when I bailed", {"red_flag:trauma"}, set(), set()),
    ("got a fever and my back aches", {"red_flag:fever", "sensation:sore"}, set(), set()),
    ("chest pain while deadlifting", {"red_flag:chest_pain", "onset:during"}, set(), set()),
    ("my pee is dark like cola after that crossfit session", {"red_flag:dark_urine"}, set(), set()),
    ("peeing brown after 200 back extensions", {"red_flag:dark_urine"}, set(), set()),
    ("I fell asleep on the couch and woke up stiff", {"sensation:stiff"}, set(), {"red_flag:trauma", "red_flag:numbness"}),
    ("a zingy feeling in my calf", {"red_flag:tingling"}, set(), set()),
    ("my private area feels numb", {"red_flag:saddle_numbness"}, set(), set()),
    ("my chest feels heavy and tight", {"red_flag:chest_pain"}, set(), set()),
    ("chest day yesterday and my back is tight", {"sensation:tight"}, set(), {"red_flag:chest_pain"}),
    ("my urine is the color of tea", {"red_flag:dark_urine"}, set(), set()),
    ("my legs feel like jelly", {"red_flag:bilateral_legs"}, set(), set()),
    ("Both legs feel kind of dead and numb from the knees down", {"red_flag:bilateral_legs"}, set(), set()),
    ("I had an accident, couldn't feel that I needed to go", {"red_flag:bladder_bowel"}, set(), set()),
    ("lower back feels like a balloon about to pop", {"sensation:full"}, set(), {"sensation:pop"}),
    ("halfway through my workout", {"onset:during"}, set(), set()),
    ("as soon as I finished", {"onset:right_after"}, set(), set()),
    ("right when I locked out the rep", {"onset:sudden"}, set(), {"sensation:spasm"}),
    ("a sharp catch just above my left hip", {"sensation:sharp", "region:lower_back"}, set(), {"other_region:hip"}),
    ("I can't feel my legs and can't pee", {"red_flag:bilateral_legs", "red_flag:bladder_bowel"}, set(), set()),
    ("Yeah, I couldn't hold my bowels and didn't even feel it coming", {"red_flag:bladder_bowel"}, set(), set()),
    ("somthing poped in my back on a heavy clean", {"sensation:pop"}, set(), {"red_flag:bladder_bowel"}),
    ("did fewer reps and my back is tight", {"sensation:tight"}, set(), {"red_flag:fever"}),
    # other body parts
    ("my shoulder clicks when I bench press", {"other_region:shoulder", "exercise:press"}, set(), {"region:back"}),
    ("knee pain after squats", {"other_region:knee"}, set(), set()),
    # duration, trend, causes
    ("my lower back has ached for two weeks and it's not getting better", {"trend:worsening", "sensation:sore"}, set(), set()),
    ("it's getting worse every day", {"trend:worsening"}, set(), set()),
    ("gone by the evening", {"trend:resolved"}, set(), set()),
    ("getting a bit better when I move", {"trend:improving"}, set(), set()),
    ("my back rounded on that rep", {"cause:rounded_back"}, set(), set()),
    ("skipped my warm up and went straight to heavy singles", {"cause:no_warmup"}, set(), set()),
    ("I jumped the weight by 20kg this week", {"cause:load_jump"}, set(), set()),
    ("slept badly all week", {"cause:poor_recovery"}, set(), set()),
]


def keys(findings, negated):
    return {f"{f.kind}:{f.value}" for f in findings if f.negated == negated}


@pytest.mark.parametrize("text,present,denied,absent", CASES, ids=[c[0][:40] for c in CASES])
def test_findings(text, present, denied, absent):
    findings = default_extractor().extract(text)
    found, negated = keys(findings, False), keys(findings, True)
    assert present <= found, f"missing {present - found}; found {found}"
    assert denied <= negated, f"not negated {denied - negated}; negated {negated}"
    assert not (absent & (found | negated)), f"unexpected {absent & (found | negated)}"
    assert not (denied & found), f"denied but also present {denied & found}"


@pytest.mark.parametrize("text,score", [("pain is 7/10", 7), ("about a 3 out of 10", 3), ("like a 6", 6), ("8.5/10", 8.5)])
def test_severity(text, score):
    [sev] = [f for f in default_extractor().extract(text) if f.kind == "severity"]
    assert sev.number == score


@pytest.mark.parametrize("text,days", [
    ("it has hurt for two weeks", 14), ("aching for 10 days now", 10), ("sore for a week", 7),
    ("for about 36 hours", 1.5), ("been like this for a couple of months", 60),
])
def test_elapsed(text, days):
    [e] = [f for f in default_extractor().extract(text) if f.kind == "elapsed"]
    assert e.number == pytest.approx(days, rel=0.01)


@pytest.mark.parametrize("text", ["I've been lifting for 5 years and my back is tight", "back after 3 months off, sore today"])
def test_training_history_is_not_a_symptom_duration(text):
    assert not [f for f in default_extractor().extract(text) if f.kind == "elapsed"]


def test_empty_and_odd_input():
    ex = default_extractor()
    assert ex.extract("") == []
    assert ex.extract("   ") == []
    assert ex.extract("🙂🙂🙂") == []
    assert isinstance(ex.extract("x" * 5000), list)


def test_spelling_normaliser():
    assert _within_one_edit("tingeling", "tingling")
    assert _within_one_edit("stabing", "stabbing")
    assert not _within_one_edit("sharp", "shape")
    norm = SpellingNormaliser(["deadlift", "numbness"], {"tite": "tight"})
    assert norm.correct("dedlift") == "deadlift"
    assert norm.correct("tite") == "tight"
    assert norm.correct("table") is None
    both = SpellingNormaliser(["pooped", "popped"])
    assert both.correct("poped") == "popped"


# --- context: only the user's own present findings are symptoms -------------------------------------------------
# (text, finding, its context)
CONTEXT_CASES = [
    # past and resolved
    ("had sciatica a few years back, long gone", "red_flag:radiating", "past"),
    ("had sciatica 2 yrs ago, long gone, this is different", "red_flag:radiating", "past"),
    ("herniated a disc in 2019 with sciatica, fully recovered", "red_flag:radiating", "past"),
    ("the sciatica from 2019 has been gone for years", "red_flag:radiating", "past"),
    ("I used to get numbness in my foot when I was running", "red_flag:numbness", "past"),
    ("history of sciatica but nothing now", "red_flag:radiating", "past"),
    ("my leg went numb years ago after a car crash", "red_flag:numbness", "past"),
    ("back in 2020 I had tingling down my leg, it cleared up", "red_flag:tingling", "past"),
    ("last year I had pins and needles in my calf", "red_flag:tingling", "past"),
    # someone else
    ("my dad has sciatica", "red_flag:radiating", "other_person"),
    ("a mate of mine had cauda equina", "red_flag:saddle_numbness", "other_person"),
    ("my uncle had cauda equina so I'm paranoid", "red_flag:saddle_numbness", "other_person"),
    ("my girlfriend says her legs go numb on hip thrusts", "red_flag:bilateral_legs", "other_person"),
    ("my brother pissed blood after a leg day once", "red_flag:dark_urine", "other_person"),
    ("a guy at my gym dropped the bar on his back", "red_flag:trauma", "other_person"),
    ("my training partner felt tingling down his leg", "red_flag:tingling", "other_person"),
    ("my wife can't feel her feet since yoga", "red_flag:bilateral_legs", "other_person"),
    ("asking for a friend who has numbness in the groin", "red_flag:saddle_numbness", "other_person"),
    ("he said his pee looked like coke after murph", "red_flag:dark_urine", "other_person"),
    # hypothetical and general questions
    ("do squats cause sciatica?", "red_flag:radiating", "hypothetical"),
    ("could this be sciatica?", "red_flag:radiating", "hypothetical"),
    ("what does cauda equina feel like", "red_flag:saddle_numbness", "hypothetical"),
    ("what if I get numbness in my leg", "red_flag:numbness", "hypothetical"),
    ("how do I know if I have rhabdo", "red_flag:dark_urine", "hypothetical"),
    ("what are the signs of cauda equina", "red_flag:saddle_numbness", "hypothetical"),
    ("is it sciatica or just a tight hamstring?", "red_flag:radiating", "hypothetical"),
    ("how common is cauda equina in lifters", "red_flag:saddle_numbness", "hypothetical"),
    ("in case I ever get tingling, what should I do", "red_flag:tingling", "hypothetical"),
    ("can deadlifts cause a pinched nerve", "red_flag:radiating", "hypothetical"),
    # figures of speech
    ("feels like I got run over by a train", "red_flag:trauma", "figurative"),
    ("feels like i got hit by a truck", "red_flag:trauma", "figurative"),
    ("Feel like I got hit by a bus after that session", "red_flag:trauma", "figurative"),
    ("legs are noodles, it was leg day", "red_flag:bilateral_legs", "figurative"),
    ("after squats my legs are like jelly", "red_flag:bilateral_legs", "figurative"),
    ("leg day destroyed me, legs are noodles and my back is tired", "red_flag:bilateral_legs", "figurative"),
    ("felt like I'd been hit by a car the next morning", "red_flag:trauma", "figurative"),
    # uncertain
    ("maybe a bit tingly?", "red_flag:tingling", "uncertain"),
    ("not sure if it's numbness or just stiffness", "red_flag:numbness", "uncertain"),
    ("my foot feels a bit numb maybe", "red_flag:numbness", "uncertain"),
    ("possibly some tingling in my calf", "red_flag:tingling", "uncertain"),
    ("might be a little pins and needles", "red_flag:tingling", "uncertain"),
    # present, as said: the real thing, not talked down
    ("I fell off the box during box jumps", "red_flag:trauma", "present"),
    ("I got hit by a car on my bike", "red_flag:trauma", "present"),
    ("my legs feel like jelly", "red_flag:bilateral_legs", "present"),
    ("is tingling down my leg normal?", "red_flag:tingling", "present"),
    ("my dad says I should see someone because my foot is numb", "red_flag:numbness", "present"),
    ("had sciatica years ago but now my foot is numb", "red_flag:numbness", "present"),
    # scope ends at but, though, except, "...", a dash and a new clause
    ("no tingling - my urine looks like coke though", "red_flag:dark_urine", "present"),
    ("no tingling - my urine looks like coke though", "red_flag:tingling", "denied"),
    ("no leg pain at all, but I can't pee", "red_flag:bladder_bowel", "present"),
    ("no numbness though my groin feels weird and numb", "red_flag:saddle_numbness", "present"),
    ("nothing down my legs except pins and needles in my foot", "red_flag:tingling", "present"),
    ("no numbness... my pee is dark brown", "red_flag:dark_urine", "present"),
    ("no numbness and now I can't pee", "red_flag:bladder_bowel", "present"),
    ("no tingling or anything but my pee is dark brown", "red_flag:dark_urine", "present"),
    ("No tingling, my pee looks like coke", "red_flag:dark_urine", "present"),
    ("never had numbness before but now my foot is numb", "red_flag:numbness", "present"),
    ("Just the right foot is weak, left leg is totally normal.", "red_flag:limb_weakness", "present"),
    ("no numbness, tingling, weakness in my legs, bladder problems or fever", "red_flag:fever", "denied"),
    ("the toilet is normal and between the legs no numb", "red_flag:bilateral_legs", None),
    ("didnt actually fall or get hit", "red_flag:trauma", "denied"),
    ("No numbness, legs are fine, no change with my bladder.", "red_flag:bladder_bowel", "denied"),
    # a back that caved under the bar is a form fault, not a fall or a blow
    ("my back caved under the bar on a heavy squat", "cause:rounded_back", "present"),
    ("my back caved under the bar on a heavy squat", "red_flag:trauma", None),
    ("got folded under a heavy squat and bailed onto the pins", "red_flag:trauma", None),
    # sudden injury in everyday words
    ("felt something give in my lower back on my last rep", "sensation:pop", "present"),
    ("it went with a click on the way up", "sensation:pop", "present"),
    ("got stuck bent over after picking up a plate", "sensation:spasm", "present"),
    ("had to crawl to the car after deadlifts", "sensation:spasm", "present"),
    ("can't stand up fully straight now", "red_flag:bilateral_legs", None),
]


@pytest.mark.parametrize("text,key,context", CONTEXT_CASES, ids=[f"{c[0][:40]}|{c[1]}" for c in CONTEXT_CASES])
def test_context(text, key, context):
    found = {f"{f.kind}:{f.value}": f.context for f in default_extractor().extract(text)}
    assert found.get(key) == context, found


# (text, days or None when the number is not the discomfort's)
DURATIONS = [
    ("I've run this programme for two months and my back is sore", None),
    ("the meet is in 3 weeks, lower back sore since tuesday", None),
    ("back in the gym after a month off, sore today", None),
    ("been running 5/3/1 for two months, back is tight today", None),
    ("Been training for this meet for 16 weeks. Just want to make sure this soreness is normal", None),
    ("i switched to ppl like 3 weeks ago bc my coach said so, lower back is pumped", None),
    ("herniated L5-S1 in 2019, did 6 months of physio, fine since", None),
    ("16 weeks out from my show and my back is tight", None),
    ("my lower back has ached for two weeks", 14),
    ("it's been hurting for 10 days now", 10),
    ("sore for 3 days since the session", 3),
    ("tweaked it 2 weeks ago and it still hurts", 14),
]


@pytest.mark.parametrize("text,days", DURATIONS, ids=[d[0][:40] for d in DURATIONS])
def test_a_duration_counts_only_when_it_is_the_discomforts(text, days):
    found = [f.number for f in default_extractor().extract(text) if f.kind == "elapsed"]
    assert (max(found) if found else None) == (pytest.approx(days) if days else None), found


@pytest.mark.parametrize("text", ["worse today than yesterday", "even more sore today", "sorer than yesterday"])
def test_worse_today_is_the_peak_not_worsening_on_its_own(text):
    keys = {f"{f.kind}:{f.value}" for f in default_extractor().extract(text)}
    assert "trend:peaking" in keys and "trend:worsening" not in keys


@pytest.mark.parametrize("text,days", [("its worse today than yesterday tho, day 2 now", 2), ("on day three now", 3)])
def test_day_n_is_a_duration(text, days):
    assert [f.number for f in default_extractor().extract(text) if f.kind == "elapsed"] == [days]
