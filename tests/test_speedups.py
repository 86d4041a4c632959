"""The speed-ups give the same answers as the Rasa code they replace."""
import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

from backcheck import speedups


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


@pytest.fixture(scope="module", autouse=True)
def applied(original_resolve, original_past_states):
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


def test_past_states_are_the_same_and_each_caller_gets_its_own_copy(original_past_states):
    from pathlib import Path

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load(str(Path(__file__).resolve().parents[1] / "domain.yml"))
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
