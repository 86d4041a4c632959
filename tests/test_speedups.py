"""The speed-ups give the same answers as the Rasa code they replace."""
import json
from pathlib import Path

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

from backcheck import speedups

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def domain():
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def recorded():
    """The tracker of a recorded conversation: verdict, follow-ups, a correction, a new warning sign."""
    return json.loads((ROOT / "tests" / "fixtures" / "tracker_long_conversation.json").read_text())


@pytest.fixture(scope="module")
def original_resolve():
    original = Event.resolve_by_type  # captured before apply()
    assert original.__module__.startswith("rasa")
    return original


@pytest.fixture(scope="module")
def original_past_states():
    from rasa.shared.core.trackers import DialogueStateTracker

    past_states = DialogueStateTracker.past_states  # captured before apply()
    assert past_states.__module__.startswith("rasa")
    return lambda tracker, domain, **flags: past_states(tracker, domain, **flags)


@pytest.fixture(scope="module")
def original_tracker_methods():
    from rasa.shared.core.trackers import DialogueStateTracker

    methods = {name: getattr(DialogueStateTracker, name) for name in ("applied_events", "copy")}
    assert all(method.__module__.startswith("rasa") for method in methods.values())
    return methods


@pytest.fixture(scope="module")
def original_rule_keys():
    from rasa.core.policies.rule_policy import RulePolicy

    assert RulePolicy._get_possible_keys.__module__.startswith("rasa")
    return RulePolicy._get_possible_keys


@pytest.fixture(scope="module")
def original_call_format():
    assert RemoteAction._action_call_format.__module__.startswith("rasa")
    return RemoteAction._action_call_format


@pytest.fixture(scope="module")
def original_create_x():
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    assert LogisticRegressionClassifier._create_X.__module__.startswith("rasa")
    return LogisticRegressionClassifier._create_X


@pytest.fixture(scope="module", autouse=True)
def applied(original_resolve, original_past_states, original_tracker_methods, original_rule_keys,
            original_call_format, original_create_x):
    speedups.apply()


def test_event_classes_resolve_as_before(original_resolve):
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert Event.resolve_by_type(name) is original_resolve(name)
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no-such-event", default=Event) is Event
    with pytest.raises(ValueError):
        Event.resolve_by_type("no-such-event")


@pytest.mark.parametrize("response, valid", [
    ({"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hi"}]}, True),
    ({"events": [], "responses": []}, True),
    ({}, True),
    ({"events": "not a list"}, False),
    ({"events": [{"event": "no-such-event"}]}, False),
    ({"responses": "nope"}, False),
])
def test_action_responses_are_validated_as_before(response, valid):
    schema = RemoteAction.action_response_format_spec()
    try:
        validate(response, schema)
        expected = True
    except ValidationError:
        expected = False
    assert expected is valid
    action = RemoteAction("action_x", None)
    if valid:
        assert action._validate_action_result(response) is True
    else:
        with pytest.raises(ValidationError):
            action._validate_action_result(response)


def test_endpoint_sessions_are_kept_open_and_reused():
    import asyncio

    from rasa.utils.endpoints import EndpointConfig

    endpoint = EndpointConfig("http://127.0.0.1:1/webhook")

    async def scenario():
        async with endpoint.session() as first:
            pass
        async with endpoint.session() as second:
            pass
        assert first is second and not first.closed
        await first.close()
        async with endpoint.session() as third:  # a closed one is replaced
            assert third is not first and not third.closed
        await third.close()

    asyncio.run(scenario())


def test_an_action_call_is_posted_as_the_json_it_stands_for(domain, recorded):
    """Posted to a real HTTP server, an action call arrives as the JSON of its contents, marked as JSON, as a plain
    dict does; other requests are sent as before."""
    import asyncio

    from aiohttp import web
    from rasa.shared.core.events import deserialise_events
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    tracker = DialogueStateTracker.from_events("posted", deserialise_events(recorded["events"]), domain.slots)
    call = RemoteAction("action_answer_followup", None)._action_call_format(tracker, domain)
    assert isinstance(call, speedups.ActionCall) and len(call["tracker"]["events"]) > 50

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"type": request.content_type, "got": await request.json()})

    async def scenario():
        app = web.Application()
        app.router.add_post("/webhook", echo)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        try:
            posted = await endpoint.request(json=call, method="post")
            plain = await endpoint.request(json={"a": [1, "b"]}, method="post")
        finally:
            async with endpoint.session() as session:
                await session.close()
            await runner.cleanup()
        return posted, plain

    posted, plain = asyncio.run(scenario())
    assert posted == {"type": "application/json", "got": json.loads(json.dumps(call))}
    assert plain == {"type": "application/json", "got": {"a": [1, "b"]}}


def test_past_states_are_the_same_and_each_caller_gets_its_own_copy(original_past_states, domain):
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker.from_events("s", [
        ActionExecuted("action_listen"),
        UserUttered("my back hurts", {"name": "describe_symptom", "confidence": 1.0}),
        ActionExecuted("triage_form"), SlotSet("symptom_onset", "during"), ActionExecuted("action_listen"),
        UserUttered("no", {"name": "deny", "confidence": 1.0})], domain.slots)
    for flags in ({}, {"ignore_rule_only_turns": True, "rule_only_data": {"slots": [], "loops": []}}):
        first = tracker.past_states(domain, **flags)
        assert first == original_past_states(tracker, domain, **flags)
        first[-1]["user"].clear()  # what the featurizer does to the last state
        assert tracker.past_states(domain, **flags) == original_past_states(tracker, domain, **flags)
    tracker.update(ActionExecuted("utter_thanks"))  # a new event: computed again
    assert tracker.past_states(domain) == original_past_states(tracker, domain)


def _flag_sets():
    rule_only = {"slots": ["symptom_onset"], "loops": ["triage_form"]}
    return [{}, {"omit_unset_slots": True}, {"ignore_rule_only_turns": True, "rule_only_data": rule_only}]


def _conversation():
    """Events of a conversation with a form, hidden rule turns, undos and a restart, in the order they happen."""
    from rasa.shared.core.events import (ActionExecuted, ActionReverted, ActiveLoop, FollowupAction, Restarted,
                                         SlotSet, UserUttered, UserUtteranceReverted)

    def said(text, intent):
        return [ActionExecuted("action_listen"), UserUttered(text, {"name": intent, "confidence": 1.0})]

    return [
        *said("my back hurts", "describe_symptom"),
        ActionExecuted("triage_form"), ActiveLoop("triage_form"), SlotSet("requested_slot", "symptom_onset"),
        *said("during deadlifts", "inform"),
        ActionExecuted("triage_form", hide_rule_turn=True), SlotSet("symptom_onset", "during"),
        *said("what do you mean?", "ask_general"),
        ActionExecuted("action_answer_followup", hide_rule_turn=True), FollowupAction("triage_form"),
        ActionExecuted("triage_form"), ActiveLoop(None), SlotSet("requested_slot", None),
        *said("oops", "deny"), UserUtteranceReverted(),
        *said("no", "deny"),
        ActionExecuted("action_give_verdict"), SlotSet("triage_category", "pump"),
        ActionExecuted("utter_anything_else"), ActionReverted(),
        *said("thanks", "thank"), ActionExecuted("utter_welcome"),
        Restarted(), *said("hi again", "greet"), ActionExecuted("utter_greet"),
    ]


def test_past_states_carried_on_over_new_events_match_a_full_replay(original_past_states, domain):
    """Event by event, the kept replay of a growing conversation gives what replaying it all from the start does,
    through a form, hidden rule turns, undos and a restart; the featurizer's edits to what it got change nothing."""
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker("growing", domain.slots)
    for event in _conversation():
        tracker.update(event)
        for flags in _flag_sets():
            got = tracker.past_states(domain, **flags)
            assert got == original_past_states(tracker, domain, **flags)
            featurizer = MaxHistoryTrackerFeaturizer()  # what Rasa's featurizer does to the states it is given
            featurizer._choose_last_user_input([got], use_text_for_last_user_input=len(got) % 2 == 0)
            featurizer._remove_user_text_if_intent([got])
            assert tracker.past_states(domain, **flags) == original_past_states(tracker, domain, **flags)


def test_a_different_history_for_the_same_conversation_is_replayed_from_the_start(original_past_states, domain):
    """Another process wrote the conversation, or it was deleted and begun again: the kept replay is not used."""
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = _conversation()[:12]
    first = DialogueStateTracker.from_events("same", events, domain.slots)
    assert first.past_states(domain) == original_past_states(first, domain)
    other = DialogueStateTracker.from_events("same", [
        ActionExecuted("action_listen"), UserUttered("sharp pain", {"name": "describe_symptom", "confidence": 1.0}),
        ActionExecuted("action_give_verdict"), SlotSet("triage_category", "acute_injury"),
        ActionExecuted("action_listen")], domain.slots)
    assert other.past_states(domain) == original_past_states(other, domain)
    assert first.past_states(domain) == original_past_states(first, domain)


def _growing_tracker(domain, sender="growing"):
    """A tracker of our domain growing event by event through `_conversation()` and a second run of the form."""
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(sender, domain.slots)
    more = [ActionExecuted("late_loop"), ActionExecuted("action_listen"), ActionExecuted("late_loop"),
            ActiveLoop("late_loop"),  # a loop named only after it ran: its earlier runs read differently
            ActionExecuted("triage_form"), ActiveLoop("triage_form"), ActionExecuted("action_listen"),
            UserUttered("sharp", {"name": "inform", "confidence": 1.0}), ActionExecuted("triage_form"),
            SlotSet("symptom_onset", "sudden"), ActionExecuted("triage_form"), ActionExecuted("action_listen"),
            ActiveLoop("another_loop"), ActionExecuted("another_loop"), ActiveLoop(None)]
    for event in [*_conversation(), *more]:
        tracker.update(event)
        yield tracker


def test_applied_events_walked_on_over_new_events_match_a_full_walk(original_tracker_methods, domain):
    original = original_tracker_methods["applied_events"]
    for tracker in _growing_tracker(domain):
        got = tracker.applied_events()
        assert [id(e) for e in got] == [id(e) for e in original(tracker)]
        got.clear()  # a caller's edit of its list changes nothing
        assert [id(e) for e in tracker.applied_events()] == [id(e) for e in original(tracker)]
    tracker.events.clear()  # the events replaced: walked again
    assert tracker.applied_events() == []


def test_tracker_copies_hold_the_state_a_replay_gives_and_stand_apart(original_tracker_methods, domain):
    from rasa.shared.core.events import SlotSet
    from rasa.shared.core.trackers import EventVerbosity

    original = original_tracker_methods["copy"]
    for tracker in _growing_tracker(domain):
        tracker.model_id = "model"
        copied, replayed = tracker.copy(), original(tracker)
        assert copied.current_state(EventVerbosity.ALL) == replayed.current_state(EventVerbosity.ALL)
        for name in ("_paused", "followup_action", "latest_action", "active_loop", "latest_message",
                     "latest_bot_utterance", "model_id", "sender_source", "is_rule_tracker", "_max_event_history"):
            assert getattr(copied, name) == getattr(replayed, name), name
        assert {n: (s.value, s.has_been_set) for n, s in copied.slots.items()} == \
            {n: (s.value, s.has_been_set) for n, s in replayed.slots.items()}
        before = tracker.current_state(EventVerbosity.ALL)
        copied.update(SlotSet("symptom_onset", "changed"))
        if copied.active_loop:
            copied.active_loop.is_interrupted = "edited"
        assert tracker.current_state(EventVerbosity.ALL) == before
        walk = original_tracker_methods["applied_events"]
        assert [id(e) for e in copied.applied_events()] == [id(e) for e in walk(copied)]
        assert [id(e) for e in tracker.applied_events()] == [id(e) for e in walk(tracker)]


def test_the_rule_policy_formats_states_only_for_its_debug_log():
    import logging

    from rasa.core.policies.policy import Policy

    states = [{"user": {"intent": "greet"}}, {"prev_action": {"action_name": "utter_greet"}}]
    logger = logging.getLogger("rasa.core.policies.rule_policy")
    level = logger.level
    try:
        logger.setLevel(logging.INFO)
        assert "greet" not in Policy.format_tracker_states(states)
        logger.setLevel(logging.DEBUG)
        assert "user intent: greet" in Policy.format_tracker_states(states)
    finally:
        logger.setLevel(level)


def test_our_actions_answer_the_compact_action_call_as_they_answer_the_full_one(domain, recorded):
    """At every turn of a recorded conversation (verdict, follow-ups, a correction, a new warning sign), each of
    our actions returns the same events and messages from the trimmed tracker as from the full one."""
    import asyncio

    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions import actions

    classes = [actions.ValidateTriageForm, actions.ActionAskSignCheck, actions.ActionGiveVerdict,
               actions.ActionAnswerFollowup, actions.ActionAskCheckin]

    def outcome(action, state):
        dispatcher = CollectingDispatcher()
        try:
            events = asyncio.run(action().run(dispatcher, Tracker.from_dict(state), {}))
        except Exception as error:  # the same failure either way counts as the same answer
            return type(error).__name__
        timeless = [{k: v for k, v in e.items() if k not in ("timestamp", "date_time")} for e in events]
        return timeless, dispatcher.messages

    events = recorded["events"]
    turns = [k for k in range(1, len(events) + 1) if events[k - 1]["event"] == "user"]
    assert len(turns) == 10
    sent_sizes = []
    for k in turns:
        full = DialogueStateTracker.from_dict(recorded["sender_id"], events[:k], domain.slots).current_state(
            EventVerbosity.ALL)
        compact = json.loads(json.dumps(full))
        compact["events"] = [e for e in map(speedups.compact_event, compact["events"]) if e is not None]
        sent_sizes.append((len(json.dumps(compact)), len(json.dumps(full))))
        for action in classes:
            assert outcome(action, compact) == outcome(action, full), (action.__name__, k)
    assert sum(c for c, _ in sent_sizes) < 0.5 * sum(f for _, f in sent_sizes)


def test_graphs_are_evaluated_as_dask_evaluates_them():
    import dask

    calls = []

    def node(name):
        def call(*inputs):
            calls.append(name)
            return name, [value for _, value in inputs]
        return call

    graph = {"__message__": ("__message__", "hello"), "tokens": (node("tokens"), "__message__"),
             "words": (node("words"), "tokens"), "chars": (node("chars"), "tokens"),
             "intent": (node("intent"), "words", "chars"), "unused": (node("unused"), "tokens")}
    expected = dask.get(graph, ["intent", "words"])
    runs = len(calls)
    calls.clear()
    assert speedups.evaluate_graph(graph, ["intent", "words"]) == list(expected)
    assert sorted(calls) == ["chars", "intent", "tokens", "words"]  # each once, and only what the targets need
    assert runs == 5  # dask also runs a node nothing needs; Rasa's graphs are cut to what the targets need first
    assert calls.index("tokens") < calls.index("words") < calls.index("intent")


def test_intent_features_are_the_message_sentence_features_side_by_side(original_create_x):
    """A message with sentence and token-by-token features from two featurizers: the classifier gets the same
    matrix as Rasa's own stacking gives it."""
    import numpy as np
    import scipy.sparse
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    message = Message(data={"text": "tight lower back"})
    for origin, columns, width in (("words", [1, 4], 9), ("chars", [0, 2, 7], 11)):
        row = scipy.sparse.coo_matrix((np.arange(1.0, len(columns) + 1), ([0] * len(columns), columns)),
                                      shape=(1, width))
        message.add_features(Features(row, "sentence", "text", origin))
        tokens = scipy.sparse.coo_matrix((np.ones(3), ([0, 1, 2], columns[:1] * 3)), shape=(3, width))
        message.add_features(Features(tokens, "sequence", "text", origin))
    got = LogisticRegressionClassifier._create_X(None, [message])
    expected = original_create_x(None, [message])
    assert got.shape == expected.shape == (1, 20) and got.format == "csr"
    assert (got != expected).nnz == 0 and got.nnz == 5


def test_intent_weights_stored_in_column_order_give_the_same_probabilities(tmp_path):
    """Train the classifier on a few examples, persist it, load it as the server does: same probabilities as the
    classifier as trained, with weights whose transpose needs no copy."""
    import numpy as np
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="lr")
    examples = [("my lower back is tight", "describe_symptom"), ("sharp pain on one rep", "describe_symptom"),
                ("hello there", "greet"), ("hi", "greet"), ("thanks a lot", "thank"), ("cheers thanks", "thank")]
    data = TrainingData([Message(data={"text": t, "intent": i}) for t, i in examples])
    tokenizer = WhitespaceTokenizer.create(WhitespaceTokenizer.get_default_config(), storage, Resource("tok"), context)
    featurizer = CountVectorsFeaturizer.create(CountVectorsFeaturizer.get_default_config(), storage,
                                               Resource("cvf"), context)
    tokenizer.process_training_data(data)
    featurizer.train(data)
    featurizer.process_training_data(data)
    resource = Resource("lr")
    trained = LogisticRegressionClassifier.create(LogisticRegressionClassifier.get_default_config(), storage,
                                                  resource, context)
    trained.train(data)
    loaded = LogisticRegressionClassifier.load(LogisticRegressionClassifier.get_default_config(), storage, resource,
                                               context)
    assert loaded.clf.coef_.T.flags["C_CONTIGUOUS"] and not trained.clf.coef_.T.flags["C_CONTIGUOUS"]
    for text in ("my back is tight after deadlifts", "hello", "thanks mate", "zzz"):
        message = Message(data={"text": text})
        tokenizer.process([message])
        featurizer.process([message])
        X = trained._create_X([message])
        assert np.array_equal(loaded.clf.predict_proba(X), trained.clf.predict_proba(X))


def test_the_compiled_schema_passes_only_responses_jsonschema_finds_valid(recorded):
    """Every event of a recorded conversation, and each with one field given a wrong type, as an action response:
    whatever the compiled check lets through, jsonschema finds valid; the rest gets jsonschema's own verdict."""
    import fastjsonschema
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    schema = RemoteAction.action_response_format_spec()
    passes = speedups.compiled_response_check(schema)
    reference = validator_for(schema, default=Draft202012Validator)(schema)
    events = [e for e in recorded["events"]] + [{"event": "followup", "name": "x"}, {"event": "reminder",
              "intent": "EXTERNAL_checkin", "date_time": "2026-12-08T10:00:00", "name": "checkin:me"}]
    responses = [{"events": [event], "responses": [{"text": "ok"}]} for event in events]
    for event in events:
        for key in event:
            for wrong in (123, 1.5, "text", [], {}, None):
                responses.append({"events": [{**event, key: wrong}]})
    responses += [{"events": [event, {"event": "slot", "name": "x"}]} for event in events[:20]]  # several events
    responses += [{"events": [1]}, {"events": [{"event": ["slot"]}]}, {"events": None}, {"responses": [1]}, [], "x"]
    agreed = 0
    for response in responses:
        valid = reference.is_valid(response)
        try:
            passes(response)
            assert valid, response
            agreed += 1
        except fastjsonschema.JsonSchemaException:
            agreed += not valid
        if valid:
            assert RemoteAction("action_x", None)._validate_action_result(response) is True
        else:
            with pytest.raises(ValidationError):
                RemoteAction("action_x", None)._validate_action_result(response)
    assert len(responses) > 500 and agreed == len(responses)


def test_the_rule_lookup_leaves_the_same_rules_as_a_walk_over_every_state(original_rule_keys):
    """Rules of 1 to 4 states, conversations of 0 to 40 states drawn from the same few states: the rules left
    are those the full walk over every rule leaves, also after rules are taken out of the lookup."""
    import random

    from rasa.core.policies.rule_policy import RulePolicy

    rng = random.Random(7)
    pool = [{}, {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}},
            {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "deny"}},
            {"prev_action": {"action_name": "triage_form"}, "active_loop": {"name": "triage_form"}},
            {"prev_action": {"action_name": "utter_greet"}, "user": {"intent": "greet"}},
            {"prev_action": {"action_text": "hello there"}}, {"prev_action": {"action_name": "should_not_be_set"}},
            {"prev_action": {"action_name": "action_listen"}, "slots": {"symptom_onset": "should_not_be_set"}}]
    policy = RulePolicy.__new__(RulePolicy)
    for _ in range(300):
        lookup = {json.dumps([rng.choice(pool) for _ in range(rng.randint(1, 4))]): "utter_x" for _ in range(12)}
        for _ in range(3):
            states = [rng.choice(pool) for _ in range(rng.randint(0, 40))]
            assert policy._get_possible_keys(lookup, states) == original_rule_keys(policy, lookup, states)
            lookup.pop(next(iter(lookup)))  # rules taken out (as training does): the same lookup, fewer rules


def test_the_action_call_is_rasas_call_with_compact_events(original_call_format, domain, recorded):
    """At every turn of the recorded conversation (and again after an event's time is changed, for fewer events,
    and with the last events reordered), the call sent is Rasa's own call with each event as `compact_event` makes it."""
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    tracker = DialogueStateTracker(recorded["sender_id"], domain.slots)
    action = RemoteAction("action_answer_followup", EndpointConfig("http://x", enable_selective_domain=True))

    def expected(of=None):
        call = original_call_format(action, of or tracker, domain)
        call["tracker"]["events"] = [e for e in map(speedups.compact_event, call["tracker"]["events"]) if e]
        return call

    from rasa.shared.core.events import ActionExecuted, deserialise_events
    for event in deserialise_events(recorded["events"]):
        tracker.update(event)
        call = action._action_call_format(tracker, domain)
        assert call == expected() and json.loads(call.body()) == call
    copied = tracker.copy()  # Rasa runs each action on a copy: it goes on from what was sent of the original
    assert copied.__dict__[speedups._SENT] is tracker.__dict__[speedups._SENT]
    copied.update(ActionExecuted("utter_greet"))
    assert action._action_call_format(copied, domain) == expected(copied) != expected()
    assert action._action_call_format(tracker, domain) == expected()
    tracker.events[-1].timestamp += 1  # an event's time changed, then the events in another tracker
    tracker = DialogueStateTracker.from_events(recorded["sender_id"], list(tracker.events), domain.slots)
    call = action._action_call_format(tracker, domain)
    assert call == expected() and json.loads(call.body()) == call
    tracker = DialogueStateTracker.from_events(recorded["sender_id"], list(tracker.events)[:-3], domain.slots)
    call = action._action_call_format(tracker, domain)  # fewer events
    assert call == expected() and json.loads(call.body()) == call
    events = list(tracker.events)  # the same tracker, its last four events in reverse order
    tracker.events.clear()
    tracker.events.extend(events[:-4] + events[-4:][::-1])
    call = action._action_call_format(tracker, domain)
    assert call == expected() and json.loads(call.body()) == call
    assert "domain" in RemoteAction("action_x", EndpointConfig("http://x"))._action_call_format(tracker, domain)


def test_the_rule_policy_predicts_from_its_window_what_it_predicts_from_the_whole_conversation(tmp_path, domain,
                                                                                               recorded):
    """Our rules, trained, persisted and loaded as the server loads them (reading only the last `rule_window`
    states), predict what the policy as trained (reading every state) predicts: before every action of the recorded
    conversation and of every story and rule it was trained on, including whether the turn is hidden."""
    import yaml
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.importers.importer import TrainingDataImporter

    settings = next(p for p in yaml.safe_load((ROOT / "config.yml").read_text())["policies"]
                    if p["name"] == "RulePolicy")
    config = {**RulePolicy.get_default_config(), **{k: v for k, v in settings.items() if k != "name"}}
    importer = TrainingDataImporter.load_from_dict(domain_path=str(ROOT / "domain.yml"),
                                                   training_data_paths=[str(ROOT / "data")])
    trackers = TrainingDataGenerator(importer.get_stories(), domain, augmentation_factor=0).generate()
    storage, resource = LocalModelStorage(tmp_path), Resource("rules")
    context = ExecutionContext(GraphSchema({}), node_name="rules")
    whole = RulePolicy.create(config, storage, resource, context)
    whole.train(trackers, domain)
    windowed = RulePolicy.load(config, storage, resource, context)
    assert whole.featurizer.max_history is None
    assert windowed.featurizer.max_history == speedups.rule_window(windowed.lookup) < 10

    conversations = [[Event.from_parameters(e) for e in recorded["events"]]] + [t.events for t in trackers]
    compared = hidden = 0
    for events in conversations:
        tracker = DialogueStateTracker("window", domain.slots)
        for event in events:
            if isinstance(event, ActionExecuted) and tracker.events:
                expected = whole.predict_action_probabilities(tracker, domain)
                got = windowed.predict_action_probabilities(tracker, domain)
                assert (got.probabilities, got.hide_rule_turn, got.events, got.is_end_to_end_prediction) == (
                    expected.probabilities, expected.hide_rule_turn, expected.events,
                    expected.is_end_to_end_prediction)
                compared += 1
                hidden += got.hide_rule_turn
            tracker.update(event)
    assert compared > 250 and hidden > 0


def test_the_rule_window_holds_every_state_a_rule_or_a_key_not_in_stories_can_tell_apart(original_rule_keys):
    """Random rules of 1 to 4 states and keys of rules not in stories of 1 to 5, conversations of 0 to 12 states
    drawn from the same few states: the last `rule_window` states leave the same rules, and their key is found
    among the rules not in stories exactly when the whole conversation's is."""
    import random

    from rasa.core.policies.rule_policy import RULES, RULES_NOT_IN_STORIES, RulePolicy

    rng = random.Random(11)
    pool = [{}, {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}},
            {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "deny"}},
            {"prev_action": {"action_name": "utter_greet"}, "user": {"intent": "greet"}}]
    policy = RulePolicy.__new__(RulePolicy)
    found = 0
    for _ in range(300):
        rules = {json.dumps([rng.choice(pool) for _ in range(rng.randint(1, 4))]): "utter_x" for _ in range(8)}
        not_in_stories = [policy._create_feature_key([rng.choice(pool) for _ in range(rng.randint(1, 5))])
                          for _ in range(30)] + ["predicting default action with intent restart"]
        window = speedups.rule_window({RULES: rules, RULES_NOT_IN_STORIES: not_in_stories})
        for _ in range(20):
            states = [rng.choice(pool) for _ in range(rng.randint(0, 12))]
            kept = states[-window:]
            assert original_rule_keys(policy, rules, kept) == original_rule_keys(policy, rules, states)
            hidden = policy._create_feature_key(states) in not_in_stories
            assert (policy._create_feature_key(kept) in not_in_stories) == hidden
            found += hidden
    assert found > 50
