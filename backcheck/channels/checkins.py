"""Check-ins on Telegram and Slack survive a restart.

A check-in is a Rasa reminder, and Rasa keeps reminders in the memory of the process that scheduled them. The
tracker keeps when it is due (slot `checkin_due`, cleared once asked), so at start-up each channel that delivers
reminders schedules again the check-ins of its conversations that are still due. A check-in already past its time
is asked at once.

Every conversation's reminder has its own name: Rasa uses the name as the scheduler's job id, so one shared name
let each new check-in replace everyone else's.
"""
import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Optional, Text

logger = logging.getLogger(__name__)

CHECKIN_SLOT = "checkin_due"
CHECKIN_INTENT = "EXTERNAL_checkin"


def checkin_job(sender_id: Text) -> Text:
    """The reminder name (and scheduler job id) of one conversation's check-in."""
    return f"backcheck_checkin:{sender_id}"


def parse_due(value: Any) -> Optional[datetime]:
    """The time a check-in slot value (an ISO timestamp) names, or None."""
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def checkin_due(value: Any, now: Optional[datetime] = None) -> bool:
    """Has the check-in time come?"""
    due = parse_due(value)
    return due is not None and due <= (now or datetime.now())


def due_time(value: Any, now: Optional[datetime] = None) -> Optional[datetime]:
    """When a check-in slot value says it is due (a little from now if that has passed), or None."""
    due = parse_due(value)
    return max(due, (now or datetime.now()) + timedelta(seconds=1)) if due else None


async def restore_checkins(agent: Any, prefix: Text, output_for: Callable[[Any], Any]) -> int:
    """Schedules again the due check-ins of the conversations whose ids start with `prefix`; returns how many."""
    from rasa.core import jobs  # here, not at the top: the action server imports checkin_job without Rasa
    from rasa.shared.core.events import ReminderScheduled

    from backcheck.privacy.store import unwrap

    store = unwrap(agent.tracker_store)
    if not hasattr(store, "senders_with_slot"):
        return 0
    restored = 0
    for sender_id in store.senders_with_slot(CHECKIN_SLOT, prefix):
        tracker = await agent.tracker_store.retrieve(sender_id)
        due = due_time(tracker.get_slot(CHECKIN_SLOT)) if tracker else None
        output = output_for(tracker) if due else None
        if output is None:
            continue
        reminder = ReminderScheduled(CHECKIN_INTENT, due, name=checkin_job(sender_id), kill_on_user_message=False)
        (await jobs.scheduler()).add_job(agent.processor.handle_reminder, "date", run_date=due,
                                         args=[reminder, sender_id, output], id=reminder.name,
                                         replace_existing=True, name=reminder.scheduled_job_name(sender_id))
        restored += 1
    if restored:
        logger.info(f"Scheduled again {restored} check-ins kept from before the restart")
    return restored
