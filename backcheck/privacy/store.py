"""The tracker store: Rasa's SQL store, plus deletion on request and retention.

endpoints.yml::

    tracker_store:
      type: backcheck.privacy.store.PrivateSQLTrackerStore
      dialect: sqlite          # or postgresql, with host, port, username, password
      db: backcheck.db

- **Deletion on request:** when a turn runs the forget action (`action_forget`, after the user confirmed
  "delete my data"), the conversation's rows are deleted instead of saved, so it is gone from the API and the
  database. On SQLite `secure_delete` is on, so deleted rows are overwritten in the file, not only unlinked, and
  the write-ahead log that still holds them as written is emptied.
- **Retention:** `purge(days)` deletes conversations whose last event is older than `days`;
  `python -m backcheck.privacy.store purge` (`make purge`) runs it.
- **Speed:** the per-turn reads and writes are plain SQL, and each conversation's latest tracker is reused while
  the database holds exactly it (several instances may share the database: any write or delete is noticed).
"""
import argparse
import itertools
import json
import logging
import os
import time
from collections import OrderedDict
from typing import Any, List, Optional, Text, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

FORGET_ACTION = "action_forget"
DEFAULT_RETENTION_DAYS = 30
CACHE_SIZE = 2000  # conversations whose latest tracker each process keeps


def retention_days() -> float:
    return float(os.environ.get("BACKCHECK_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


def retention_period() -> Text:
    """How long conversations left alone are kept, in words: "30 days", "1 day"."""
    days = retention_days()
    return f"{days:g} day{'' if days == 1 else 's'}"


def tell_retention_period() -> None:
    """Responses may say `{retention_period}` (the privacy reply does): filled in by the Rasa server with the
    period its own retention setting gives, the one `make run` purges with, not a number written in the domain."""
    from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator

    original = TemplatedNaturalLanguageGenerator.generate
    if getattr(original, "_tells_retention_period", False):
        return

    async def generate(self: Any, utter_action: Text, tracker: Any, output_channel: Text, **kwargs: Any) -> Any:
        kwargs.setdefault("retention_period", retention_period())
        return await original(self, utter_action, tracker, output_channel, **kwargs)

    generate._tells_retention_period = True  # type: ignore[attr-defined]
    TemplatedNaturalLanguageGenerator.generate = generate


class PrivateSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that forgets a conversation on request and purges old ones."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # sender -> (tracker, stored events, last row id): the tracker as last loaded or saved here
        self._cache: "OrderedDict[Text, Tuple[DialogueStateTracker, int, int]]" = OrderedDict()
        if self.engine.dialect.name == "sqlite":
            # Rasa opened a new connection for every read and write (NullPool); they are kept instead. Each has
            # secure_delete on, and the file is in WAL mode with synchronous=NORMAL: a commit no longer waits for
            # the disk (twice, in the default rollback-journal mode: about 1 ms a turn). After a power cut the
            # last turns may be lost; the file is never corrupted, and an application crash loses nothing.
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(url, poolclass=sa.pool.QueuePool,
                                           connect_args={"check_same_thread": False})
            sa.event.listen(self.engine, "connect", _sqlite_settings)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    # The same queries Rasa's SQLTrackerStore builds with the ORM on every turn, as plain SQL (the same on SQLite
    # and PostgreSQL): ORM objects per row, query compilation and the unit of work were 45 % of a turn (py-spy).
    _SESSION_START = ('COALESCE((SELECT MAX("timestamp") FROM events WHERE sender_id = :sender AND type_name = '
                      "'session_started'), -1e300)")
    _LATEST_SESSION = sa.text(f'SELECT id, data FROM events WHERE sender_id = :sender AND "timestamp" >= '
                              f"{_SESSION_START} ORDER BY id")
    _LATEST_SESSION_FROM = sa.text(f'SELECT id, type_name, "timestamp", data FROM events WHERE sender_id = :sender '
                                   f'AND id >= :last AND "timestamp" >= {_SESSION_START} ORDER BY id')
    _LAST_ID = sa.text("SELECT MAX(id) FROM events WHERE sender_id = :sender")
    _ALL_SESSIONS = sa.text("SELECT id, data FROM events WHERE sender_id = :sender ORDER BY id")
    _STORED = sa.text(f'SELECT COUNT(*), MAX(id) FROM events WHERE sender_id = :sender AND "timestamp" >= '
                      f"{_SESSION_START}")

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        """The latest session comes from the cache while the database holds exactly what the cached tracker holds
        (same number of events, same last row; any instance's write or delete changes that): rebuilding a tracker
        from all its events grew with the conversation and was a third of a turn 40 messages in."""
        if fetch_events_from_all_sessions:
            with self.engine.connect() as connection:
                rows = connection.execute(self._ALL_SESSIONS, {"sender": sender_id}).fetchall()
            return self._tracker(sender_id, rows)
        with self.engine.connect() as connection:
            stored = tuple(connection.execute(self._STORED, {"sender": sender_id}).one())
            cached = self._cache.get(sender_id)
            if cached and len(cached[0].events) == cached[1] and cached[1] <= stored[0]:
                tracker, count, last_id = cached
                if (count, last_id) == stored:
                    self._cache.move_to_end(sender_id)
                    return tracker
                # Another instance took the turns since: our last row and the rows after it. If our last row is
                # still there as we stored it, and the session holds as many rows as ours plus the new ones (so
                # none of ours is gone), the tracker goes on from the new rows, as a fresh one would from all.
                rows = connection.execute(self._LATEST_SESSION_FROM, {"sender": sender_id, "last": last_id}).all()
                ours = tracker.events[-1] if tracker.events else None
                if (len(rows) > 1 and ours is not None and tuple(rows[0][:3]) == (last_id, ours.type_name,
                                                                                 ours.timestamp)
                        and count + len(rows) - 1 == stored[0] and rows[-1][0] == stored[1]):
                    for event in deserialise_events([json.loads(row[3]) for row in rows[1:]]):
                        tracker.update(event)
                    self._remember(sender_id, tracker, stored)
                    return tracker
            rows = connection.execute(self._LATEST_SESSION, {"sender": sender_id}).fetchall()
        tracker = self._tracker(sender_id, rows)
        self._remember(sender_id, tracker, (len(rows), rows[-1][0]) if rows else (0, None))
        return tracker

    def _tracker(self, sender_id: Text, rows: List[Any]) -> Optional[DialogueStateTracker]:
        if self.domain and rows:
            return DialogueStateTracker.from_dict(sender_id, [json.loads(data) for _, data in rows], self.domain.slots)
        return None

    def _remember(self, sender_id: Text, tracker: Optional[DialogueStateTracker], stored: Tuple) -> None:
        if tracker is None or len(tracker.events) != stored[0]:
            self._cache.pop(sender_id, None)
            return
        self._cache[sender_id] = (tracker, *stored)
        self._cache.move_to_end(sender_id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Adds the events not stored yet, in one statement; or deletes the conversation after the forget action."""
        if forgets(tracker):
            await self.delete(tracker.sender_id)
            return
        await self.stream_events(tracker)
        with self.engine.begin() as connection:
            # The tracker loaded this turn (checked against the database then, and the conversation is locked
            # since): the cache knows how many of its events are stored. Any other tracker: the database says.
            cached = self._cache.get(tracker.sender_id)
            if cached is not None and cached[0] is tracker:
                stored = cached[1]
            else:
                stored = connection.execute(self._STORED, {"sender": tracker.sender_id}).one()[0]
            rows = []
            for event in itertools.islice(tracker.events, stored, len(tracker.events)):
                data = event.as_dict()
                rows.append({"sender_id": tracker.sender_id, "type_name": event.type_name,
                             "timestamp": data.get("timestamp"), "action_name": data.get("name"),
                             "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
                             "data": json.dumps(data)})
            if rows:
                connection.execute(self.SQLEvent.__table__.insert(), rows)
            if rows and not any(row["type_name"] == SessionStarted.type_name for row in rows):
                # the same session, with these rows more: counting them all again grew with the conversation
                last_id = connection.execute(self._LAST_ID, {"sender": tracker.sender_id}).scalar()
                after = (stored + len(rows), last_id)
            else:
                after = tuple(connection.execute(self._STORED, {"sender": tracker.sender_id}).one())
            self._remember(tracker.sender_id, tracker, after)

    def senders_with_slot(self, slot: Text, prefix: Text = "") -> List[Text]:
        """Conversations (ids starting with `prefix`) that ever set `slot`: candidates, the tracker decides."""
        query = sa.text("SELECT DISTINCT sender_id FROM events WHERE type_name = 'slot' AND sender_id LIKE :prefix "
                        "AND data LIKE :slot")
        with self.engine.connect() as connection:
            rows = connection.execute(query, {"prefix": prefix.replace("%", "") + "%", "slot": f'%"{slot}"%'})
            return [sender for (sender,) in rows]

    async def delete(self, sender_id: Text) -> int:
        """Deletes every event of the conversation; returns how many rows went."""
        self._cache.pop(sender_id, None)
        with self.session_scope() as session:
            count = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete()
            session.commit()
            _wipe_log(session)
        logger.info(f"Deleted a conversation on request ({count} events)")
        return count

    async def drop_last_turn(self, sender_id: Text, since: float) -> int:
        """Deletes the latest user message and everything after it, if that message came at or after `since`
        (a turn that failed half-way), so the conversation is as it was before it; returns how many rows went."""
        self._cache.pop(sender_id, None)
        event = self.SQLEvent
        with self.session_scope() as session:
            last_user = (session.query(event.id, event.timestamp)
                         .filter(event.sender_id == sender_id, event.type_name == UserUttered.type_name)
                         .order_by(event.id.desc()).first())
            if last_user is None or (last_user.timestamp or 0) < since:
                return 0
            count = session.query(event).filter(event.sender_id == sender_id, event.id >= last_user.id) \
                .delete(synchronize_session=False)
            session.commit()
        return count

    def purge(self, days: Optional[float] = None, now: Optional[float] = None) -> int:
        """Deletes the conversations with no event in the last `days` days; returns how many."""
        days = retention_days() if days is None else days
        self._cache.clear()
        cutoff = (now or time.time()) - days * 86400
        event = self.SQLEvent
        with self.session_scope() as session:
            stale = (session.query(event.sender_id).group_by(event.sender_id)
                     .having(sa.func.max(event.timestamp) < cutoff).subquery())
            senders = [s for (s,) in session.query(stale.c.sender_id).all()]
            for start in range(0, len(senders), 500):
                session.query(event).filter(event.sender_id.in_(senders[start:start + 500])) \
                    .delete(synchronize_session=False)
            session.commit()
            _wipe_log(session)
        logger.info(f"Retention: deleted {len(senders)} conversations older than {days:g} days")
        return len(senders)


def unwrap(store: Any) -> Any:
    """The store Rasa wraps (AwaitableTrackerStore, FailSafeTrackerStore) around the configured one."""
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    return store


def forgets(tracker: DialogueStateTracker) -> bool:
    """Did the latest turn (the events since the last user message) run the forget action?"""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name == FORGET_ACTION:
            return True
    return False


def _sqlite_settings(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    for pragma in ("secure_delete = ON", "journal_mode = WAL", "synchronous = NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _wipe_log(session: Any) -> None:
    """On SQLite, after a delete: the deleted rows are copied over in the file (secure_delete) and the write-ahead
    log, which still holds them as they were written, is emptied."""
    if session.bind.dialect.name == "sqlite":
        session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))


def store_from_endpoints(path: Text) -> PrivateSQLTrackerStore:
    """The store endpoints.yml configures (its tracker_store section)."""
    from rasa.core.utils import AvailableEndpoints

    config = AvailableEndpoints.read_endpoints(path).tracker_store
    if config is None:
        raise SystemExit(f"{path} has no tracker_store section")
    kwargs = {k: v for k, v in config.kwargs.items() if k != "type"}
    return PrivateSQLTrackerStore(host=config.url, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m backcheck.privacy.store")
    parser.add_argument("command", choices=["purge"])
    parser.add_argument("--endpoints", default="endpoints.yml")
    parser.add_argument("--days", type=float, default=None, help=f"default: $BACKCHECK_RETENTION_DAYS or "
                                                                   f"{DEFAULT_RETENTION_DAYS}")
    parser.add_argument("--every", type=float, default=None, help="keep running, purging every this many hours")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    store = store_from_endpoints(options.endpoints)
    while True:
        count = store.purge(options.days)
        days = retention_days() if options.days is None else options.days
        print(f"purged {count} conversations older than {days:g} days", flush=True)
        if not options.every:
            return
        time.sleep(options.every * 3600)


if __name__ == "__main__":
    main()
