"""Work Rasa 3.6 repeats on every turn for nothing, done once instead (applied by backcheck/server.py).

Found with py-spy on the Rasa server under load (8 conversations at once, and conversations 40 turns long).
Each replacement gives the same result as the code it replaces; tests/test_speedups.py checks that.
"""
from typing import Any, Dict, Optional, Text, Type

_applied = False


def compile_action_response_schema() -> None:
    """Every action server response is checked with `jsonschema.validate`, which re-checks the schema itself and
    builds a new validator on each call: 40 % of the server's CPU under load. Same schema, validator built once."""
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)

    def validate_action_result(self: RemoteAction, result: Dict) -> bool:
        try:
            validator.validate(result)
        except ValidationError as error:
            error.message += ". Failed to validate Action server response from API."
            raise
        return True

    RemoteAction._validate_action_result = validate_action_result


def cache_event_types() -> None:
    """Loading a tracker finds each event's class by walking every subclass of Event, for every event: 18 % of a
    turn 40 messages into a conversation. The classes do not change once imported: the lookup is made once."""
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    original = Event.resolve_by_type
    by_name: Dict[Text, Type[Event]] = {}
    for cls in all_subclasses(Event):
        by_name.setdefault(cls.type_name, cls)

    def resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
        found = by_name.get(type_name)
        return found if found is not None else original(type_name, default)

    Event.resolve_by_type = staticmethod(resolve_by_type)


def keep_connections() -> None:
    """Every call to the action server opened a new HTTP client session and connection (Rasa's EndpointConfig
    makes one per request). One session per endpoint and event loop is kept open and reused instead."""
    import asyncio

    import aiohttp
    from rasa.utils.endpoints import EndpointConfig

    original = EndpointConfig.session
    kept: Dict[Any, aiohttp.ClientSession] = {}

    class _Kept:
        """`async with` over a kept session: entering gives it, leaving does not close it."""

        def __init__(self, session: aiohttp.ClientSession) -> None:
            self.session = session

        async def __aenter__(self) -> aiohttp.ClientSession:
            return self.session

        async def __aexit__(self, *_: Any) -> bool:
            return False

    def session(self: EndpointConfig) -> Any:
        key = (id(self), id(asyncio.get_running_loop()))
        found = kept.get(key)
        if found is None or found.closed:
            found = kept[key] = original(self)
        return _Kept(found)

    EndpointConfig.session = session


def reuse_past_states() -> None:
    """Each prediction featurises the whole conversation several times over: the rule policy once for the text and
    once for the intent of the last message, the memoization policy once more. The states depend only on the
    tracker's events, so they are computed once per tracker and number of events; callers edit what they get (the
    featurizer deletes keys of the last state), so each gets its own copy. A third of a turn 40 messages in."""
    from rasa.shared.core.trackers import DialogueStateTracker

    original = DialogueStateTracker.past_states

    def past_states(self: DialogueStateTracker, domain: Any, omit_unset_slots: bool = False,
                    ignore_rule_only_turns: bool = False, rule_only_data: Optional[Dict[Text, Any]] = None) -> Any:
        events = self.events
        key = (len(events), id(events[-1]) if events else None, id(domain), omit_unset_slots,
               ignore_rule_only_turns, repr(rule_only_data))
        cached = self.__dict__.get("_backcheck_past_states")
        if cached is None or cached[0] != key:
            cached = (key, original(self, domain, omit_unset_slots=omit_unset_slots,
                                    ignore_rule_only_turns=ignore_rule_only_turns, rule_only_data=rule_only_data))
            self.__dict__["_backcheck_past_states"] = cached
        return [{name: dict(sub_state) for name, sub_state in state.items()} for state in cached[1]]

    DialogueStateTracker.past_states = past_states


def apply() -> None:
    global _applied
    if not _applied:
        compile_action_response_schema()
        cache_event_types()
        keep_connections()
        reuse_past_states()
        _applied = True
