"""The figures statistics report (R19): per campaign and hour, per agent and day."""

from __future__ import annotations

import attrs


@attrs.define
class CampaignFigures:
    dials: int = 0
    human: int = 0
    machine: int = 0
    busy: int = 0
    no_answer: int = 0
    failed: int = 0
    cancelled: int = 0
    connects: int = 0
    abandons: int = 0
    talk_seconds: float = 0.0
    wrapup_seconds: float = 0.0
    callbacks_set: int = 0
    callbacks_kept: int = 0  # dialled within the campaign's callback window after the appointment (R12: five minutes)
    callbacks_late: int = 0  # dialled after the window had passed
    callbacks_missed: int = 0  # the window passed with no dial (as far as the log goes; one dialled later moves to late)
    successes: int = 0  # dispositions that counted as a success when recorded (R18)
    dispositions: dict[str, int] = attrs.field(factory=dict)

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.human if self.human else 0.0

    def add(self, other: CampaignFigures) -> None:
        for f in attrs.fields(CampaignFigures):
            if f.name == "dispositions":
                for k, v in other.dispositions.items():
                    self.dispositions[k] = self.dispositions.get(k, 0) + v
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@attrs.define
class AgentFigures:
    seconds: dict[str, float] = attrs.field(factory=dict)
    pause_seconds: dict[str, float] = attrs.field(factory=dict)
    connects: int = 0
    campaign_connects: dict[str, int] = attrs.field(factory=dict)

    @property
    def talk_seconds(self) -> float:
        return self.seconds.get("talking", 0.0)

    @property
    def logged_in_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def occupancy(self) -> float:
        busy = self.seconds.get("talking", 0.0) + self.seconds.get("wrap_up", 0.0)
        total = self.logged_in_seconds
        return busy / total if total else 0.0
