"""``python -m bot freeze|unfreeze``: the same database switch as /freeze in the curators' chat."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapters.registry import settings_class
from bot.cli.main import main
from bot.clock import SystemClock
from bot.config import load
from bot.curation.amplifier import Amplifier
from bot.store.store import Store, make_engine


def test_freeze_and_unfreeze_from_the_command_line(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "community": {"slug": "lim", "name": "LiM", "hashtags": ["LatinasInMedicine"]},
                "database": {"url": db_url},
                "curators": [{"name": "ana"}],
            }
        )
    )
    assert main(["freeze", "--as", "ana", "--config", str(config)]) == 0
    assert "Amplification is frozen" in capsys.readouterr().out
    settings = load(config, schemas=settings_class)
    engine = make_engine(db_url)
    store = Store.open(engine, "lim", "LiM", SystemClock().now())
    assert Amplifier(store, {}, settings, SystemClock()).frozen  # what every worker reads
    assert main(["freeze", "--as", "ana", "--config", str(config)]) == 0
    assert "already frozen" in capsys.readouterr().out
    assert main(["freeze", "--as", "mallory", "--config", str(config)]) == 2
    assert "no curator named 'mallory'" in capsys.readouterr().err
    assert main(["unfreeze", "--as", "ana", "--config", str(config)]) == 0
    assert "back on" in capsys.readouterr().out
    assert not Amplifier(store, {}, settings, SystemClock()).frozen
    engine.dispose()
