"""Whether the bot is keeping up: per platform the last good watch, errors and queue; the undo and
reply backlogs; and whether the curators froze amplification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.health import HealthReport, report
from bot.ops import messages
from bot.ops.result import Outcome, Result
from bot.store.store import Store
from bot.trust.veto import FreezeSwitch, freeze_switch


@dataclass(frozen=True)
class Health:
    report: HealthReport
    freeze: FreezeSwitch

    @property
    def ok(self) -> bool:
        return self.report.ok


def health(
    store: Store, settings: Settings, now: datetime, *, stale_after: timedelta | None = None
) -> Result[Health]:
    """Done when every platform is watched in time; refused (exit 1) when one is stale. A freeze
    is shown, not failed on: it is the curators' choice, not the bot falling behind."""
    found = report(store, settings, now, stale_after)
    switch = freeze_switch(store)
    stale = [p.platform for p in found.platforms if p.stale]
    outcome = Outcome.DONE if found.ok else Outcome.REFUSED
    return Result(outcome, messages.health_summary(stale, switch.frozen), Health(found, switch))
