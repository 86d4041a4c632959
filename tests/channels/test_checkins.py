"""Check-ins kept in the tracker are scheduled again after a restart, each conversation under its own name."""
from datetime import datetime, timedelta

from backcheck.channels.checkins import checkin_job, due_time


def test_each_conversation_has_its_own_reminder_name():
    assert checkin_job("telegram:1") != checkin_job("telegram:2")


def test_a_due_time_in_the_past_is_asked_at_once_and_nonsense_is_not_scheduled():
    now = datetime(2026, 11, 27, 12, 0, 0)
    later = now + timedelta(days=2)
    assert due_time(later.isoformat(), now) == later
    assert due_time((now - timedelta(hours=5)).isoformat(), now) == now + timedelta(seconds=1)
    for value in (None, "", "soon", 42):
        assert due_time(value, now) is None


def test_a_check_in_is_due_once_its_time_has_come():
    from backcheck.channels.checkins import checkin_due

    now = datetime(2026, 11, 27, 12, 0, 0)
    assert checkin_due((now - timedelta(seconds=1)).isoformat(), now)
    assert checkin_due(now.isoformat(), now)
    assert not checkin_due((now + timedelta(minutes=1)).isoformat(), now)
    for value in (None, "", "soon", 42):
        assert not checkin_due(value, now)
