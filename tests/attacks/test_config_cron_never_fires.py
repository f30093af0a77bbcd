"""A series on a cron rule that never fires (31 February) is a config error, not a series that
silently never publishes; an empty opt-out marker list is allowed but ``check-config`` warns."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.registry import settings_class
from bot.cli.main import main
from bot.config import parse
from bot.errors import ConfigError
from bot.schema import Environment

LONGEST = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def _config(cron: str) -> dict[str, object]:
    return {
        "community": {"slug": "lim", "name": "LIM", "hashtags": ["X"]},
        "series": {"schedule": [{"name": "digest", "kind": "digest", "cron": cron}]},
    }


@pytest.mark.parametrize(
    "cron", ["0 0 31 2 *", "0 0 30 2 *", "0 9 31 4 *", "0 9 31 4,6,9,11 *", "0 9 31 2 mon", "0 9 30-31 2 *"]
)
def test_a_rule_no_date_matches_is_refused(
    cron: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "config.yaml"
    f.write_text(
        "community: {slug: lim, name: LIM, hashtags: [X]}\n"
        f"series:\n  schedule:\n    - {{name: digest, kind: digest, cron: '{cron}'}}\n"
    )
    assert main(["check-config", "--config", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"config error: series.schedule[0].cron: {cron!r} never fires: no date matches it"


@pytest.mark.parametrize("cron", ["0 9 29 2 *", "0 9 29 2 mon", "0 9 31 * *", "0 9 1-7 * mon", "*/5 * * * *"])
def test_rare_rules_that_do_fire_are_kept(cron: str) -> None:
    assert parse(_config(cron), Environment({}), schemas=settings_class).series.schedule[0].cron == cron


@settings(max_examples=200, deadline=None)
@given(day=st.integers(1, 31), months=st.sets(st.integers(1, 12), min_size=1, max_size=3))
def test_a_day_and_month_rule_fires_exactly_when_some_month_has_that_day(day: int, months: set[int]) -> None:
    cron = f"0 9 {day} {','.join(map(str, sorted(months)))} *"
    fires = any(day <= LONGEST[m] for m in months)
    if fires:
        assert parse(_config(cron), Environment({}), schemas=settings_class).series.schedule[0].cron == cron
    else:
        with pytest.raises(ConfigError) as info:
            parse(_config(cron), Environment({}), schemas=settings_class)
        assert info.value.key == "series.schedule[0].cron"


def test_an_empty_optout_marker_list_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "config.yaml"
    f.write_text("community: {slug: lim, name: LIM, hashtags: [X]}\ncuration:\n  optout_markers: []\n")
    assert main(["check-config", "--config", str(f)]) == 0
    out = capsys.readouterr().out
    assert "config OK" in out
    assert "warning: curation.optout_markers is empty" in out
    f.write_text("community: {slug: lim, name: LIM, hashtags: [X]}\n")
    assert main(["check-config", "--config", str(f)]) == 0
    assert "warning" not in capsys.readouterr().out
