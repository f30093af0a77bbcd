"""The reference network starts once per test run: a module that imports the fixture again makes
a second session fixture of the same name, and with it a second network (~50 s, ~400 MB)."""

from __future__ import annotations

import subprocess
import sys

from tests.atproto_network.fixture import REPO_ROOT, network_test_modules


def test_every_module_on_the_network_shares_one_network() -> None:
    modules = sorted(network_test_modules())
    assert len(modules) >= 5  # the smoke tests, the Bluesky adapter's and the attacks'
    command = [sys.executable, "-m", "pytest", "--setup-plan", "-p", "no:cacheprovider", "-o", "addopts="]
    plan = subprocess.run(
        [*command, *modules],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    setups = [line for line in plan.stdout.splitlines() if "SETUP    S atproto_network" in line]
    assert len(setups) == 1, plan.stdout[-3000:]
