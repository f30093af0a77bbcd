"""``python -m bot audit`` and ``python -m bot members search`` print what their operations return:
words, or JSON with numbers as numbers; date words and kinds checked by the command line."""

from __future__ import annotations

from tests.bot.ops.test_cli_truth import Cli, config, first_json, queued
from tests.bot.ops.test_cli_truth import cli as cli

__all__ = ["config", "queued"]  # fixtures used by name


def test_audit_and_members_search_from_the_command_line(cli: Cli, queued: list[int]) -> None:
    assert cli("queue", "reject", str(queued[0]), "--as", "rosa", "--reason", "off topic")[0] == 0
    assert cli("member", "freeze", "maria@med.example", "--as", "ana")[0] == 0
    code, out, _ = cli("audit")
    assert code == 0
    assert "decision    reject     rosa" in out
    assert "freeze      freeze     ana" in out
    code, out, _ = cli("audit", "--kind", "freeze", "--by", "ana", "--since", "today", "--json")
    assert code == 0
    data = first_json(out)["data"]
    assert [(e["kind"], e["action"], e["actor"]) for e in data["entries"]] == [("freeze", "freeze", "ana")]
    assert data["limit"] == 50
    code, _, err = cli("audit", "--since", "someday")
    assert code == 2
    assert "cannot read 'someday' as a date" in err
    assert cli("audit", "--kind", "gossip")[0] == 2

    code, out, _ = cli("members", "search", "MARIA", "--json")
    assert code == 0
    (person,) = first_json(out)["data"]
    assert person["frozen"] is True
    assert person["accounts"][0]["ref"] == "mastodon:acc-maria@med.example"
    code, out, _ = cli("members", "search", "nobody")
    assert (code, out.strip()) == (0, "No member matches 'nobody'.")
