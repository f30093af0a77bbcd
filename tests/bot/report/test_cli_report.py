"""``python -m bot report``, ``members`` and ``refresh`` as an admin or a curator types them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.cli.main import main
from bot.report import directory, render
from sandbox.mastodon import MastodonSandbox
from tests.bot.report.conftest import Seeded

TOKEN = "tok-report-secret-value"


@pytest.fixture
def config(tmp_path: Path, db_url: str, seeded: Seeded) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "community": {
                    "slug": "lim",
                    "name": "Latinas in Medicine",
                    "hashtags": ["LatinasInMedicine", "LatinasEnMedicina"],
                },
                "database": {"url": db_url},
                "curators": [{"name": "ana"}, {"name": "rosa"}],
                "directory": {"organisations": ["clinic.bsky.social"]},
            }
        )
    )
    return path


def test_report_prints_the_table_and_writes_every_file(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path, png, page = tmp_path / "r.csv", tmp_path / "r.png", tmp_path / "r.html"
    argv = ["report", "--since", "2026-03-01", "--until", "2026-03-31", "--config", str(config)]
    code = main([*argv, "--csv", str(csv_path), "--chart", str(png), "--html", str(page)])
    out = capsys.readouterr().out
    assert code == 0
    assert "reach report 2026-03-01 to 2026-03-31 (both days included)" in out  # as typed
    assert f"wrote {csv_path}, {png}, {page}" in out
    cells = {(s, metric, key): v for s, metric, key, v in render.read_csv(csv_path)}
    assert cells[("posts", "hashtag_posts", "all")] == "12"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "data:image/png;base64," in page.read_text()


def test_report_refuses_a_backwards_period(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--since", "2026-03-10", "--until", "2026-03-01", "--config", str(config)])
    assert code == 2
    assert "--until must come after --since" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--since", "last tuesday", "--config", str(config)])
    assert exit_info.value.code == 2
    assert "cannot read 'last tuesday' as a date" in capsys.readouterr().err


def test_members_list_export_mark_unmark(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["members", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "maria@med.example" in out
    assert "quiet@med.example" not in out
    assert "8 members (1 opted out: counted, never listed)" in out

    assert main(["members", "list", "--json", "--platform", "bluesky", "--config", str(config)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["outcome"] == "done"
    assert {x["handle"] for x in listed["data"]["members"]} == {"rosa.bsky.social", "clinic.bsky.social"}

    path = tmp_path / "members.csv"
    assert main(["members", "export", "--csv", str(path), "--config", str(config)]) == 0
    assert "wrote 7 members" in capsys.readouterr().out
    assert len(directory.read_csv(path)) == 7

    assert main(["members", "mark", "@tgmember", "--as", "ana", "--config", str(config)]) == 0
    assert "@tgmember (telegram) now counts as an organisation." in capsys.readouterr().out
    assert main(["members", "unmark", "hospital@med.example", "--as", "rosa", "--config", str(config)]) == 0
    assert "now counts as an individual" in capsys.readouterr().out

    assert main(["members", "mark", "nobody", "--as", "ana", "--config", str(config)]) == 1
    assert "no member 'nobody'" in capsys.readouterr().err
    assert main(["members", "mark", "@tgmember", "--as", "mallory", "--config", str(config)]) == 2


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", token=TOKEN) as sb:
        yield sb


def test_refresh_asks_each_platform_once(
    tmp_path: Path,
    db_url: str,
    sandbox: MastodonSandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.set_followers_count(7)
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
                "database": {"url": db_url},
                "platforms": {
                    "mastodon": {"api_base_url": sandbox.base_url, "access_token": "${MASTO_TOKEN}"}
                },
            }
        )
    )
    monkeypatch.setenv("MASTO_TOKEN", TOKEN)
    assert main(["refresh", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "mastodon: 0 posts' engagement, 0 accounts' follows, 7 followers"
    assert TOKEN not in out


def test_report_periods_as_people_write_them(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--since", "2026-03", "--config", str(config), "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert code == 0
    period = shown["data"]["period"]
    assert (period["first_day"], period["last_day"], period["since_text"]) == (
        "2026-03-01",
        "2026-03-31",
        "2026-03",
    )
    posts = {p["platform"]: p["posts"] for p in shown["data"]["report"]["platforms"]}
    assert posts["mastodon"] > 0
    assert isinstance(posts["mastodon"], int)

    assert main(["report", "--since", "2026-03-01", "--until", "2026-03-31", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("period: 2026-03-01 to 2026-03-31, both days included (UTC)")
    assert "as typed: --since 2026-03-01 --until 2026-03-31" in out

    for words in (["--since", "yesterday"], ["--since", "30d"], ["--since", "last-month"], []):
        assert main(["report", *words, "--config", str(config), "--log-level", "WARNING"]) == 0, words
        out = capsys.readouterr().out
        assert "both days included" in out
    assert "the last full month" in out  # no period given

    assert main(["report", "--until", "2026-03-01", "--config", str(config), "--log-level", "WARNING"]) == 2
    assert "usage error: give --since too" in capsys.readouterr().err


def test_report_outputs_all_or_none(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    argv = ["report", "--since", "2026-03", "--config", str(config), "--log-level", "WARNING"]
    missing = out_dir / "nowhere" / "r.html"
    code = main([*argv, "--csv", str(out_dir / "r.csv"), "--html", str(missing)])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err.strip() == f"usage error: cannot write {missing}: No such file or directory; nothing was written"
    )
    assert list(out_dir.iterdir()) == []
