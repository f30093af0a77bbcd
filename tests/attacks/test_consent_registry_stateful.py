"""The consent registry under random sequences of requests from random accounts (Hypothesis
stateful test, on SQLite): optout, optin, asking for a link code, entering a code (the right one,
someone else's, a guess), confirming or refusing, profile markers, the sweep, time passing.

Held after every step:
- an account that opted out is not amplifiable — nor is any account linked to it — until that
  same account opts back in (an opt-in from a linked account never clears it);
- nobody is trapped: a person none of whose accounts is out is not held out;
- accounts are linked exactly when the model says both consented (code given in private to A,
  entered by B, confirmed by A in time); a code never reaches a public answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import Connection, Engine

from bot.domain import Author, MemberRequest, Platform
from bot.store.migrate import upgrade
from bot.store.store import Store, make_engine
from bot.trust import member_commands as cmd
from bot.trust.consent import ConsentRegistry
from tests.conftest import make_settings

EXAMPLES = 50
STEPS = 25
CODE = re.compile(r"\b([A-Z2-9]{4})-([A-Z2-9]{4})\b")


@dataclass(frozen=True)
class Who:
    platform: Platform
    account_id: str
    handle: str

    @property
    def private(self) -> bool:
        return self.platform is not Platform.BLUESKY  # Bluesky answers are public replies


ACCOUNTS = (
    Who(Platform.MASTODON, "101", "maria@med.example"),
    Who(Platform.TELEGRAM, "3001", "@maria_md"),
    Who(Platform.BLUESKY, "did:plc:maria", "maria.test"),
    Who(Platform.MASTODON, "102", "troll@pile.example"),
    Who(Platform.BLUESKY, "did:plc:troll", "troll.test"),
)
who = st.sampled_from(range(len(ACCOUNTS)))


@dataclass
class Code:
    owner: int
    expires: datetime
    used: bool = False


@dataclass
class Pending:
    owner: int
    enterer: int
    until: datetime
    decided: bool = False


class ConsentMachine(RuleBasedStateMachine):
    def __init__(self, engine: Engine, serial: int) -> None:
        super().__init__()
        cfg = make_settings(trust={"requests_per_sender": 10_000})
        self.now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
        self.store = Store.open(engine, f"c{serial}", "Community", self.now)
        self.registry = ConsentRegistry(self.store, cfg)
        self.minutes = timedelta(minutes=cfg.trust.link_code_minutes)
        self.sent = 0
        # the model
        self.out: set[int] = set()  # accounts whose own word is "out"
        self.group = list(range(len(ACCOUNTS)))  # union-find parents
        self.codes: dict[str, Code] = {}
        self.pending: list[Pending] = []
        self.bad: dict[int, int] = {}
        self.pks: dict[int, int] = {}
        for i in range(len(ACCOUNTS)):  # every account known from the start (a post, say)
            self.send(i, cmd.HELP)

    # -- helpers -------------------------------------------------------------------------------

    def root(self, i: int) -> int:
        while self.group[i] != i:
            i = self.group[i]
        return i

    def send(self, i: int, kind: str, argument: str | None = None) -> str | None:
        self.sent += 1
        w = ACCOUNTS[i]
        req = MemberRequest(
            kind,
            Author(w.account_id, w.handle),
            w.platform,
            argument,
            reply_ref=f"r{self.sent}",
            private=w.private,
        )
        (handled,) = self.registry.record(w.platform, [req], self.now)
        if not w.private:
            assert handled.reply is None or not CODE.search(handled.reply), handled.reply
            for other in ACCOUNTS:  # a public answer names nobody
                assert handled.reply is None or other.handle.lstrip("@") not in handled.reply.replace(
                    w.handle.lstrip("@"), ""
                )
        return handled.reply

    def pk(self, conn: Connection, i: int) -> int:
        if i not in self.pks:
            w = ACCOUNTS[i]
            pk = self.registry.account_pk(conn, w.platform, w.account_id)
            assert pk is not None
            self.pks[i] = pk
        return self.pks[i]

    # -- rules ---------------------------------------------------------------------------------

    @rule(i=who)
    def opt_out(self, i: int) -> None:
        self.send(i, cmd.OPTOUT)
        self.out.add(i)

    @rule(i=who)
    def opt_in(self, i: int) -> None:
        self.send(i, cmd.OPTIN)
        self.out.discard(i)

    @rule(i=who)
    def profile_marker(self, i: int) -> None:
        w = ACCOUNTS[i]
        self.registry.mark_opted_out(w.platform, [w.account_id], "profile marker", self.now)
        self.out.add(i)

    @rule(i=who)
    def ask_for_a_code(self, i: int) -> None:
        reply = self.send(i, cmd.LINK) or ""
        found = CODE.search(reply)
        if not ACCOUNTS[i].private:
            assert found is None
            return
        assert found is not None, reply
        for code in self.codes.values():
            if code.owner == i and not code.used:
                code.used = True  # replaced: no longer good
        for waiting in self.pending:
            if waiting.owner == i:
                waiting.decided = True  # and no earlier entry can be confirmed any more
        self.codes[found[1] + found[2]] = Code(i, self.now + self.minutes)

    @rule(a=who, b=who)
    def link_with_both_consenting(self, a: int, b: int) -> None:
        """The whole dance in one step (so random runs reach linked people often): A asks in
        private, B enters the code, A confirms."""
        if a == b or not ACCOUNTS[a].private:
            return
        self.ask_for_a_code(a)
        code = next(c for c, v in self.codes.items() if v.owner == a and not v.used)
        self._enter(b, code)
        self.confirm(a, yes=True)

    @rule(i=who, pick=st.integers(min_value=0, max_value=50))
    def enter_a_code(self, i: int, pick: int) -> None:
        if not self.codes:
            return
        code = sorted(self.codes)[pick % len(self.codes)]
        self._enter(i, code)

    @rule(i=who, guess=st.text(alphabet=cmd.CODE_ALPHABET, min_size=8, max_size=8))
    def guess_a_code(self, i: int, guess: str) -> None:
        self._enter(i, guess)

    def _enter(self, i: int, code: str) -> None:
        reply = self.send(i, cmd.LINK, code)
        assert reply is not None
        if self.bad.get(i, 0) >= 5:
            assert "Too many wrong codes" in reply
            return
        found = self.codes.get(code)
        if found is None or found.used or found.expires <= self.now:
            self.bad[i] = self.bad.get(i, 0) + 1
            assert "unknown or has expired" in reply
            return
        if found.owner == i:
            assert "came from this account" in reply
            return
        found.used = True
        if self.root(found.owner) == self.root(i):
            assert "already linked" in reply
            return
        assert "Nothing is linked until then" in reply
        self.pending.append(Pending(found.owner, i, self.now + self.minutes))

    @rule(i=who, yes=st.booleans())
    def confirm(self, i: int, yes: bool) -> None:
        reply = self.send(i, cmd.LINK_YES if yes else cmd.LINK_NO) or ""
        waiting = [p for p in self.pending if p.owner == i and not p.decided and p.until > self.now]
        if not waiting:
            assert "no link waiting" in reply
            return
        assert len(waiting) == 1  # never two links waiting: a "yes" names one account
        chosen = waiting[0]
        chosen.decided = True
        if yes:
            assert reply.startswith("Linked"), reply
            self.group[self.root(chosen.enterer)] = self.root(chosen.owner)
        else:
            assert reply.startswith("Refused")

    @rule()
    def sweep(self) -> None:
        self.registry.enforce(self.now)

    @rule(minutes=st.sampled_from([1, 7, 16]))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    # -- what must hold ------------------------------------------------------------------------

    @invariant()
    def nobody_out_is_amplifiable_and_nobody_is_trapped(self) -> None:
        with self.store.engine.connect() as conn:
            for i in range(len(ACCOUNTS)):
                standing = self.registry.consent_of(conn, self.pk(conn, i))["consent"]
                held_out = any(self.root(j) == self.root(i) for j in self.out)
                assert (standing == "out") == held_out, (i, standing, self.out)

    @invariant()
    def linked_exactly_as_both_consented(self) -> None:
        with self.store.engine.connect() as conn:
            for i in {self.root(j) for j in range(len(ACCOUNTS))}:
                linked = set(self.registry.person_accounts(conn, self.pk(conn, i)))
                expected = {self.pk(conn, j) for j in range(len(ACCOUNTS)) if self.root(j) == self.root(i)}
                assert linked == expected


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    # in memory-backed storage when there is one: hundreds of small transactions, kept fast
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path_factory.mktemp("consent")
    path = base / f"coalesce-consent-{uuid.uuid4().hex[:8]}.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()
    path.unlink(missing_ok=True)


def test_consent_registry_random_sequences_keep_every_opt_out(sqlite_engine: Engine) -> None:
    serial = iter(range(1_000_000))
    run_state_machine_as_test(
        lambda: ConsentMachine(sqlite_engine, next(serial)),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
