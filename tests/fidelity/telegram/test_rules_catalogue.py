"""Every rule in ``sandbox.telegram.rules.RULES`` is held from both sides: a test of the sandbox
and a test of the adapter carry its name in a ``rule`` mark."""

from __future__ import annotations

from types import ModuleType

import pytest

from sandbox.telegram.rules import RULES
from tests.fidelity.telegram import test_rules_adapter, test_rules_sandbox


def rules_tested_in(module: ModuleType) -> set[str]:
    found: set[str] = set()
    for name, thing in vars(module).items():
        if name.startswith("test_"):
            marks = getattr(thing, "pytestmark", [])
            found.update(str(mark.args[0]) for mark in marks if mark.name == "rule")
    return found


@pytest.mark.parametrize("side", [test_rules_sandbox, test_rules_adapter], ids=["sandbox", "adapter"])
def test_every_documented_rule_has_a_test(side: ModuleType) -> None:
    names = {rule.name for rule in RULES}
    assert len(names) == len(RULES)
    assert rules_tested_in(side) == names


def test_every_rule_names_its_documentation() -> None:
    for rule in RULES:
        assert "core.telegram.org/bots" in rule.section, rule.name
        assert rule.says, rule.name
        assert rule.enforced_in, rule.name
