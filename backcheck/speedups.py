"""Work Rasa 3.6 repeats on every turn for nothing, done once instead (applied by backcheck/server.py).

Found with py-spy on the Rasa server under load (8 conversations at once, and conversations 40 turns long).
Each replacement gives the same result as the code it replaces; tests/test_speedups.py checks that.
"""
import copy
import itertools
import json
import operator
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple, Type

_applied = False


def _starts_with(events: Sequence[Any], kept: List[Any]) -> bool:
    """Are the first events the very objects kept (same objects, same order)? `kept` holds them, so no other
    object can have taken one of their ids."""
    return len(events) >= len(kept) and all(map(operator.is_, itertools.islice(events, len(kept)), kept))


# What a tracker keeps of its own events, under these names in its __dict__, as a tuple that begins with the events
# it was worked out from. Tracker copies carry them: each is checked against the events before it is used.
_APPLIED = "_backcheck_applied"
_SENT = "_backcheck_sent"


def _kept_and_new(tracker: Any, name: Text) -> Tuple[Optional[tuple], List[Any]]:
    """What the tracker keeps under `name` and its events since; (None, all its events) when nothing is kept or the
    events it was worked out from are no longer the tracker's first events."""
    events = tracker.events
    kept = tracker.__dict__.get(name)
    if kept is None or not _starts_with(events, kept[0]):
        return None, list(events)
    return kept, list(itertools.islice(events, len(kept[0]), None))


def compiled_response_check(schema: Dict[Text, Any]) -> Any:
    """Rasa's action response schema as compiled code (fastjsonschema) that raises `JsonSchemaException` for a
    response the schema refuses. Each event is checked only against its own type's part of the schema's oneOf (the
    parts differ in a constant event name, so no other part can match), not against all 23."""
    import fastjsonschema

    items = schema["properties"]["events"]["items"]
    base = {key: value for key, value in items.items() if key != "oneOf"}
    by_type = {part["properties"]["event"]["const"]: fastjsonschema.compile({"allOf": [base, part]})
               for part in items["oneOf"]}
    outer = fastjsonschema.compile({**schema, "properties": {**schema["properties"], "events": {"type": "array"}}})

    def check(response: Any) -> None:
        outer(response)
        for event in response.get("events") or ():
            kind = event.get("event") if isinstance(event, dict) else None
            by_kind = by_type.get(kind) if isinstance(kind, str) else None
            if by_kind is None:
                raise fastjsonschema.JsonSchemaException("not an event of a known type")
            by_kind(event)

    return check


def compile_action_response_schema() -> None:
    """Every action server response is checked with `jsonschema.validate`, which re-checked the schema itself and
    built a new validator on each call (40 % of the server's CPU under load), then tried each event against every
    event type. It is checked by `compiled_response_check`; a response that fails there goes to jsonschema's
    validator (built once), so a bad response fails with the same error as before."""
    import fastjsonschema
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)
    passes = compiled_response_check(schema)

    def validate_action_result(self: RemoteAction, result: Dict) -> bool:
        try:
            passes(result)
            return True
        except fastjsonschema.JsonSchemaException:
            pass
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


class _Replay:
    """One conversation's states so far: the tracker replayed up to `events`, the states before each action in
    them, and where the rule-only bookkeeping of `Domain.states_for_tracker_history` stands."""

    def __init__(self, tracker: Any) -> None:
        self.events: List[Any] = []
        self.tracker = tracker.init_copy()
        self.states: List[Dict] = []
        self.last_ml_action: Optional[Dict] = None
        self.hidden = False


def _add_state(replay: _Replay, states: List[Dict], hide_rule_turn: bool, domain: Any, omit_unset_slots: bool,
               ignore_rule_only_turns: bool, rule_only_data: Optional[Dict]) -> None:
    """One step of `Domain.states_for_tracker_history` (Rasa 3.6), for the replayed tracker as it is now."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    tracker = replay.tracker
    if ignore_rule_only_turns:
        if not replay.hidden:
            replay.last_ml_action = domain._get_prev_action_sub_state(tracker)
        if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
            replay.hidden = hide_rule_turn
        if replay.hidden:
            return
    state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if replay.last_ml_action:
            state[PREVIOUS_ACTION] = replay.last_ml_action
    states.append(domain._clean_state(state))


def _editable(state: Dict) -> Dict:
    """A state the featurizer may edit: it deletes keys of the state and of its user part (Rasa 3.6 edits
    nothing else)."""
    return {**state, "user": dict(state["user"])} if "user" in state else dict(state)


def incremental_past_states(max_conversations: int = 500) -> None:
    """Each prediction featurised the whole conversation, several times (the rule policy once for the text and once
    for the intent of the last message, the memoization policy once more), by replaying every event from the first:
    a third of a turn 40 messages in, and growing. The states before each action depend only on the events before
    it, so each conversation's replay is kept (for the last `max_conversations`) and carried on over the new events
    only. While the events already replayed are the same objects in the same order (the tracker store hands back
    the same tracker), only new ones are replayed; anything else (an undo, another process's tracker) replays from
    the start. Callers edit what they get (the featurizer deletes keys of the states and of their user part),
    so each gets copies of those; the featurizer copies only the last `max_history` states it keeps."""
    from collections import OrderedDict

    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    replays: "OrderedDict[Any, _Replay]" = OrderedDict()

    def states_now(tracker: DialogueStateTracker, domain: Any, omit_unset_slots: bool, ignore_rule_only_turns: bool,
                   rule_only_data: Optional[Dict]) -> List[Dict]:
        flags = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        key = (tracker.sender_id, id(domain), tracker.is_rule_tracker, omit_unset_slots, ignore_rule_only_turns,
               repr(rule_only_data))
        events = tracker.applied_events()
        replay = replays.pop(key, None)
        if replay is None or not _starts_with(events, replay.events):
            replay = _Replay(tracker)
        for event in events[len(replay.events):]:
            if isinstance(event, ActionExecuted):
                _add_state(replay, replay.states, event.hide_rule_turn, domain, *flags)
            replay.tracker.update(event)
        replay.events = events
        replays[key] = replay
        while len(replays) > max_conversations:
            replays.popitem(last=False)
        # the state after the last event is computed on the side: the next event may change it
        states = list(replay.states)
        _add_state(copy.copy(replay), states, False, domain, *flags)
        return states

    def kept_states(tracker: DialogueStateTracker, domain: Any, omit_unset_slots: bool = False,
                    ignore_rule_only_turns: bool = False, rule_only_data: Optional[Dict[Text, Any]] = None) -> Any:
        """`past_states` as kept, for callers that copy what they edit."""
        events = tracker.events
        key = (len(events), id(events[-1]) if events else None, id(domain), omit_unset_slots,
               ignore_rule_only_turns, repr(rule_only_data))
        cached = tracker.__dict__.setdefault("_backcheck_past_states", {})
        if key not in cached or len(cached) > 8:
            if len(cached) > 8:
                cached.clear()
            cached[key] = states_now(tracker, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        return cached[key]

    def past_states(self: DialogueStateTracker, domain: Any, omit_unset_slots: bool = False,
                    ignore_rule_only_turns: bool = False, rule_only_data: Optional[Dict[Text, Any]] = None) -> Any:
        return [_editable(state) for state in kept_states(self, domain, omit_unset_slots, ignore_rule_only_turns,
                                                          rule_only_data)]

    def prediction_states(self: MaxHistoryTrackerFeaturizer, trackers: List[DialogueStateTracker], domain: Any,
                          use_text_for_last_user_input: bool = False, ignore_rule_only_turns: bool = False,
                          rule_only_data: Optional[Dict[Text, Any]] = None,
                          ignore_action_unlikely_intent: bool = False) -> List[List[Dict]]:
        """Rasa 3.6's, with only the states within `max_history` copied, not the whole conversation."""
        trackers_as_states = []
        for tracker in trackers:
            states = kept_states(tracker, domain, ignore_rule_only_turns=ignore_rule_only_turns,
                                 rule_only_data=rule_only_data)
            if ignore_action_unlikely_intent:
                states = self._remove_action_unlikely_intent_from_states(states)
            trackers_as_states.append([_editable(state) for state in self.slice_state_history(states,
                                                                                              self.max_history)])
        self._choose_last_user_input(trackers_as_states, use_text_for_last_user_input)
        return trackers_as_states

    DialogueStateTracker.past_states = past_states
    MaxHistoryTrackerFeaturizer.prediction_states = prediction_states


def incremental_applied_events() -> None:
    """`applied_events` (the events with undone ones left out) walked every event of the conversation, and was
    called again and again per turn: while the loops named and the events already walked are the same, only new
    events are walked, with Rasa 3.6's rules; anything else walks all of them again. Callers get their own list."""
    from rasa.shared.core.events import (ActionExecuted, ActionReverted, ActiveLoop, Restarted, SessionStarted,
                                         UserUttered, UserUtteranceReverted)
    from rasa.shared.core.trackers import DialogueStateTracker

    def walk(tracker: DialogueStateTracker, events: Any, loop_names: set, applied: List[Any]) -> List[Any]:
        for event in events:  # the body of DialogueStateTracker.applied_events
            if isinstance(event, (Restarted, SessionStarted)):
                applied = []
            elif isinstance(event, ActionReverted):
                tracker._undo_till_previous(ActionExecuted, applied)
            elif isinstance(event, UserUtteranceReverted):
                tracker._undo_till_previous(UserUttered, applied)
                tracker._undo_till_previous(ActionExecuted, applied)
            elif (isinstance(event, ActionExecuted) and event.action_name in loop_names
                  and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)):
                tracker._undo_till_previous_loop_execution(event.action_name, applied)
            else:
                applied.append(event)
        return applied

    def loops(events: Any) -> set:
        return {event.name for event in events if isinstance(event, ActiveLoop) and event.name}

    def applied_events(self: DialogueStateTracker) -> List[Any]:
        kept, new = _kept_and_new(self, _APPLIED)  # (the events walked, the loops named, the applied events)
        if kept is not None and loops(new) <= kept[1]:
            walked, loop_names, applied = kept
            if new:
                applied = walk(self, new, loop_names, list(applied))
                self.__dict__[_APPLIED] = (walked + new, loop_names, applied)
            return list(applied)
        walked = list(self.events)
        loop_names = loops(walked)
        applied = walk(self, walked, loop_names, [])
        self.__dict__[_APPLIED] = (walked, loop_names, applied)
        return list(applied)

    DialogueStateTracker.applied_events = applied_events


def copy_trackers_by_state() -> None:
    """`tracker.copy()` (before every action) replayed every event into a new tracker. A tracker's state is, by
    Rasa's own rule, what its events make it, so the copy takes that state over: the same events, copies of the
    slots and of the loop and action dicts. What `init_copy` leaves out (model id, source) stays out, as before."""
    from rasa.shared.core.trackers import DialogueStateTracker

    state = ("_paused", "followup_action", "latest_message", "latest_bot_utterance")

    def copy_tracker(self: DialogueStateTracker) -> DialogueStateTracker:
        new = self.init_copy()
        new.events = new._create_events(list(self.events))
        for name, slot in self.slots.items():
            new.slots[name] = copy.copy(slot)
        for name in state:
            setattr(new, name, getattr(self, name))
        new.latest_action = dict(self.latest_action) if self.latest_action is not None else None
        new.active_loop = copy.copy(self.active_loop)
        for kept in (_APPLIED, _SENT):  # checked against the events before each use
            if kept in self.__dict__:
                new.__dict__[kept] = self.__dict__[kept]
        return new

    DialogueStateTracker.copy = copy_tracker


def format_states_only_for_debug_logs() -> None:
    """The rule policy formats all states of the conversation for a debug log line on every prediction, even when
    debug logging is off. It is formatted only when that log line is written."""
    import logging

    from rasa.core.policies.policy import Policy

    original = Policy.format_tracker_states
    logger = logging.getLogger("rasa.core.policies.rule_policy")

    def format_tracker_states(states: List[Dict]) -> Text:
        return original(states) if logger.isEnabledFor(logging.DEBUG) else f"({len(states)} states)"

    Policy.format_tracker_states = staticmethod(format_tracker_states)


# What the action server reads of past events (rasa_sdk's Tracker and our actions): each event's type, time, names,
# values, texts, the intent and entities of what the user said, and which channel it came in on.
_PARSE_DATA_SENT = ("intent", "entities", "text", "message_id")
_NOT_SENT = {"bot": ("metadata", "data"), "action": ("metadata", "policy", "confidence")}


def compact_event(event: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
    """An event as the action server gets it (None: not sent): without the NLU's scores for every intent, the
    tokens, the model and assistant ids stamped on each event, or the featurisation markers."""
    kind = event.get("event")
    if kind == "user_featurization":
        return None
    left_out = _NOT_SENT.get(kind, ("metadata",))
    event = {key: value for key, value in event.items() if key not in left_out}
    if kind == "user" and isinstance(event.get("parse_data"), dict):
        event["parse_data"] = {key: value for key, value in event["parse_data"].items() if key in _PARSE_DATA_SENT}
    return event


class ActionCall(dict):
    """A call to the action server, and its JSON (`body`) made with each past event's JSON text as made once."""

    def __init__(self, call: Dict[Text, Any], event_texts: List[Text]) -> None:
        super().__init__(call)
        self.event_texts = event_texts

    def body(self) -> bytes:
        def ending_with(text: Text, key: Text, value: Text) -> Text:  # '{..}' with '"key": value' last
            return f'{text[:-1]}{", " if text != "{}" else ""}"{key}": {value}}}'

        tracker = ending_with(json.dumps({k: v for k, v in self["tracker"].items() if k != "events"}), "events",
                              f'[{", ".join(self.event_texts)}]')
        return ending_with(json.dumps({k: v for k, v in self.items() if k != "tracker"}), "tracker",
                           tracker).encode()


def call_state(tracker: Any) -> Dict[Text, Any]:
    """`tracker.current_state(EventVerbosity.NONE)` (Rasa 3.6), for a call that is only written out as JSON: the
    active loop's fields are taken as they are, not deep-copied (its trigger message, with every intent's score,
    was copied value by value on every call)."""
    import dataclasses

    from rasa.shared.core.constants import ACTIVE_LOOP, FOLLOWUP_ACTION

    loop = tracker.active_loop
    return {
        "sender_id": tracker.sender_id,
        "slots": tracker.current_slot_values(),
        "latest_message": tracker._latest_message_data(),
        "latest_event_time": tracker.events[-1].timestamp if tracker.events else None,
        FOLLOWUP_ACTION: tracker.followup_action,
        "paused": tracker.is_paused(),
        "events": None,
        "latest_input_channel": tracker.get_latest_input_channel(),
        ACTIVE_LOOP: {field.name: getattr(loop, field.name) for field in dataclasses.fields(loop)} if loop else {},
        "latest_action": tracker.latest_action,
        "latest_action_name": tracker.latest_action_name,
    }


def compact_action_calls() -> None:
    """Every call to the action server posted the whole conversation with every event in full: JSON that grew by
    about 3 KB a turn, written by Rasa and parsed by the action server on each call. The conversation is still
    sent whole, but each past event carries only what the action server reads (`compact_event`), worked out and
    written as JSON once per event (again if its time is changed), and a tracker's events are gone through again
    only from the first new one; the latest message, with everything the NLU said of it, is sent in full as
    before."""
    import rasa
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    sent: Dict[int, Any] = {}  # id(event) -> (event, its timestamp, what is sent of it, that as JSON)

    def as_sent(event: Any) -> Any:
        kept = sent.get(id(event))
        if kept is None or kept[0] is not event or kept[1] != event.timestamp:
            if len(sent) > 100_000:
                sent.clear()
            compact = compact_event(event.as_dict())
            kept = sent[id(event)] = (event, event.timestamp, compact, compact and json.dumps(compact))
        return kept

    def sent_events(tracker: Any) -> Tuple[List[Dict[Text, Any]], List[Text]]:
        """What is sent of the tracker's events, and that as JSON: carried on over the new events while the events
        already seen are the same objects in the same order (the tracker store hands back the same tracker)."""
        kept, new = _kept_and_new(tracker, _SENT)  # (the events seen, what is sent of them, that as JSON)
        kept = kept or ([], [], [])
        if new:
            sent_new = [entry for entry in map(as_sent, new) if entry[2] is not None]
            kept = (kept[0] + new, kept[1] + [entry[2] for entry in sent_new],
                    kept[2] + [entry[3] for entry in sent_new])
            tracker.__dict__[_SENT] = kept
        return list(kept[1]), list(kept[2])

    def _action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> ActionCall:
        """Rasa 3.6's call, with each event as `compact_event` makes it, made once per event."""
        state = call_state(tracker)
        state["events"], texts = sent_events(tracker)
        call = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": state,
                "version": rasa.__version__}
        if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
            call["domain"] = domain.as_dict()
        return ActionCall(call, texts)

    original_request = EndpointConfig.request

    async def request(self: EndpointConfig, *args: Any, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("json"), ActionCall):  # sent as the JSON it already is (same Content-Type)
            kwargs["data"] = kwargs.pop("json").body()
        return await original_request(self, *args, **kwargs)

    RemoteAction._action_call_format = _action_call_format
    EndpointConfig.request = request


def freeze_loaded_objects() -> None:
    """Python's garbage collector kept walking the millions of objects loaded at start-up (the model, spaCy,
    TensorFlow's modules) in its full collections, most often in the first minutes, while the caches fill. Once the
    model is loaded they are moved out of its way (`gc.freeze`): they are never garbage anyway."""
    import gc

    import rasa.core.run

    original = rasa.core.run.load_agent_on_start

    async def load_agent_on_start(*args: Any, **kwargs: Any) -> Any:
        agent = await original(*args, **kwargs)
        gc.collect()
        gc.freeze()
        return agent

    rasa.core.run.load_agent_on_start = load_agent_on_start


def evaluate_graph(graph: Dict[Text, Any], targets: List[Text]) -> List[Any]:
    """What `dask.get(graph, targets)` gives for Rasa's graphs (node name -> (callable, names it needs...)): each
    node computed once, after the nodes it needs, depth first."""
    done: Dict[Text, Any] = {}

    def value(key: Text) -> Any:
        if key not in done:
            task = graph[key]
            if type(task) is tuple and task and callable(task[0]):
                done[key] = task[0](*[value(arg) for arg in task[1:]])
            else:
                done[key] = task  # an input: (name, value)
        return done[key]

    return [value(target) for target in targets]


def run_graphs_directly() -> None:
    """Rasa runs its graph through dask's scheduler for each message and each prediction, and works out the part
    of the graph the targets need every time: 8 % of a short turn. The part needed is worked out once per set of
    targets, and the graph is run by `evaluate_graph`, or by dask for a graph not in Rasa's shape."""
    import dask
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    def run(self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None,
            targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
        run_targets = targets if targets else self._graph_schema.target_names
        minimal = self.__dict__.setdefault("_backcheck_minimal", {})
        key = tuple(run_targets)
        if key not in minimal:
            minimal[key] = self._graph_schema.minimal_graph_schema(run_targets)
        run_graph = self._build_dask_graph(minimal[key])
        if inputs:
            self._add_inputs_to_graph(inputs, run_graph)
        plain = all(isinstance(arg, str) and arg in run_graph
                    for task in run_graph.values() if type(task) is tuple and task and callable(task[0])
                    for arg in task[1:])
        try:
            return dict(evaluate_graph(run_graph, run_targets) if plain else dask.get(run_graph, run_targets))
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    DaskGraphRunner.run = run


def intent_features_as_they_are() -> None:
    """The intent classifier combined all of each message's features (token by token too, which it does not read),
    stacked them with an empty dense part, then stacked the one message: scipy's general stacking, for a copy of
    the same matrix. With one message and only sparse features (our pipeline), its sentence features are put side
    by side, once."""
    import scipy.sparse
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.constants import TEXT

    original = LogisticRegressionClassifier._create_X

    def _create_X(self: LogisticRegressionClassifier, messages: List[Any]) -> Any:
        if len(messages) == 1 and messages[0].get_dense_features(attribute=TEXT)[1] is None:
            # the sentence features side by side, as `get_sparse_features` combines them (without also combining
            # the token-by-token features, which the classifier does not read)
            _, sentence = messages[0]._filter_sparse_features(TEXT, [])
            if sentence:
                return scipy.sparse.hstack([f.features for f in sentence], format="csr")
        return original(self, messages)

    LogisticRegressionClassifier._create_X = _create_X


def _after_load(component_class: Any, adjust: Callable[[Any], None]) -> None:
    """`component_class.load` (a graph component's classmethod, as the model loads it), then `adjust` on what
    it loaded."""
    original = component_class.load.__func__

    def load(cls: Any, *args: Any, **kwargs: Any) -> Any:
        component = original(cls, *args, **kwargs)
        adjust(component)
        return component

    component_class.load = classmethod(load)


def intent_weights_in_column_order() -> None:
    """scikit-learn scores a message as features x weights.T; with the weights in row order, scipy copied the whole
    transposed weight matrix (every n-gram by every intent) into a new array for each message: about 1 ms. Stored
    in column order once at load, the transpose is used as it is. Same numbers, same arithmetic."""
    import numpy as np
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    def in_column_order(component: LogisticRegressionClassifier) -> None:
        coef = getattr(getattr(component, "clf", None), "coef_", None)
        if coef is not None:
            component.clf.coef_ = np.asfortranarray(coef)

    _after_load(LogisticRegressionClassifier, in_column_order)


def _last_state_anchor(rule_states: List[Dict]) -> Any:
    """What a conversation's last state needs for the rule to apply to it (RulePolicy._is_rule_applicable at turn
    0): no previous action, a previous action of this name, or any previous action; None: nothing known."""
    from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET
    from rasa.shared.nlu.constants import ACTION_NAME

    if not rule_states:
        return None
    previous = rule_states[-1].get(PREVIOUS_ACTION)
    if not previous:
        return ("no previous action",)
    name = previous.get(ACTION_NAME)
    if isinstance(name, str) and name and name != SHOULD_NOT_BE_SET:
        return ("previous action", name)
    return ("any previous action",)


def rule_lookup_stops_when_settled() -> None:
    """The rule policy matched all its rules (175 of ours) against every state of the conversation, from the last
    one back, for each of two or three predictions a message. Now only rules whose last state can apply to the
    conversation's last state are matched (they are indexed by what their last state needs: see
    `_last_state_anchor`), and the walk stops when every rule left is settled (applicable for good once the walk is
    past its length): the same rules are left as matching every rule against every state leaves."""
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.constants import PREVIOUS_ACTION
    from rasa.shared.nlu.constants import ACTION_NAME

    indexes: Dict[int, Any] = {}  # id(lookup) -> (lookup, its size, anchor -> its rule keys)

    def candidates(self: RulePolicy, lookup: Dict[Text, Text], last: Dict) -> Any:
        entry = indexes.get(id(lookup))
        if entry is None or entry[0] is not lookup or entry[1] != len(lookup):
            index: Dict[Any, set] = {}
            for key in lookup:
                index.setdefault(_last_state_anchor(self._rule_key_to_state(key)), set()).add(key)
            entry = indexes[id(lookup)] = (lookup, len(lookup), index)
        index = entry[2]
        previous = last.get(PREVIOUS_ACTION)
        if not previous:
            return index.get(("no previous action",), set()) | index.get(None, set())
        return (index.get(("previous action", previous.get(ACTION_NAME)), set())
                | index.get(("any previous action",), set()) | index.get(None, set()))

    def _get_possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: List[Dict]) -> Any:
        possible_keys = candidates(self, lookup, states[-1]) if states else set(lookup.keys())
        for i, state in enumerate(reversed(states)):
            if all(i >= len(self._rule_key_to_state(key)) for key in possible_keys):
                break
            possible_keys = set(filter(lambda _key: self._is_rule_applicable(_key, i, state), possible_keys))
        return possible_keys

    RulePolicy._get_possible_keys = _get_possible_keys


def rule_window(lookup: Dict[Text, Any]) -> int:
    """One state more than the longest state sequence the rule policy looks up: its rules, its loop conditions and
    the keys of its rules not in stories (`hide_rule_turn`)."""
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RULES_NOT_IN_STORIES

    longest = 0
    for keys in (lookup.get(RULES, {}), lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH, {}),
                 lookup.get(RULES_NOT_IN_STORIES, [])):
        for key in keys:
            try:
                states = json.loads(key)
            except ValueError:  # a default or loop rule's name
                continue
            if isinstance(states, list):
                longest = max(longest, len(states))
    return longest + 1


def rule_policy_reads_its_window() -> None:
    """The rule policy featurised the whole conversation twice per prediction, then matched its rules against the
    last few states and, when none matched, turned all the states into one JSON key to look up among keys of at most
    a few states. Loaded for prediction, it reads only the last `rule_window` states: each rule is matched against
    the same states, and a key too long to be found stays too long to be found."""
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.core.policies.rule_policy import RulePolicy

    def read_window(policy: RulePolicy) -> None:
        featurizer = policy.featurizer
        if type(featurizer) is MaxHistoryTrackerFeaturizer and featurizer.max_history is None:
            featurizer.max_history = rule_window(policy.lookup)

    _after_load(RulePolicy, read_window)


def apply() -> None:
    global _applied
    if not _applied:
        compile_action_response_schema()
        cache_event_types()
        keep_connections()
        incremental_applied_events()
        incremental_past_states()
        copy_trackers_by_state()
        format_states_only_for_debug_logs()
        compact_action_calls()
        freeze_loaded_objects()
        run_graphs_directly()
        intent_features_as_they_are()
        intent_weights_in_column_order()
        rule_lookup_stops_when_settled()
        rule_policy_reads_its_window()
        _applied = True
