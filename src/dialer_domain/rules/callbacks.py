"""R12: within five minutes after the appointment the system dials the contact. The window is the
campaign's ``callback_window_seconds`` (300 by default)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

#: R12: "within five minutes after the appointment", the default of a campaign's callback window.
CALLBACK_WINDOW_SECONDS = 300


class CallbackKept(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"


def callback_deadline(callback_at: datetime, window_seconds: int) -> datetime:
    """The last moment a callback counts as kept on time."""
    return callback_at + timedelta(seconds=window_seconds)


def callback_kept(deadline: datetime, dialled_at: datetime) -> CallbackKept:
    """A callback dialled by its deadline was kept on time; one dialled after it, late."""
    return CallbackKept.ON_TIME if dialled_at <= deadline else CallbackKept.LATE
