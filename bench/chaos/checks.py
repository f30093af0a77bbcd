"""The chaos run's end: wait for the workers to settle, then count from the platforms themselves
and the database — duplicates, lost posts, opt-out violations — and explain what is stuck."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bench.chaos.common import CHANNEL, Made
from bench.chaos.common import say as _say
from bench.chaos.world import Workers, World
from bot.domain import Platform
from bot.store import models as m
from bot.store.store import Store


class Checks:
    """Counts what the bot did against what the driver did (``made``)."""

    def __init__(self, made: Made) -> None:
        self.made = made

    def drain(self, world: World, store: Store, engine: Any, workers: Workers) -> bool:
        deadline = time.monotonic() + 150
        pause = threading.Event()
        while time.monotonic() < deadline:
            for name, proc in workers.procs.items():
                if proc.poll() is not None:  # a worker must not die on its own; say so and restart
                    _say(f"worker {name} exited with {proc.returncode}; restarting")
                    workers.start(name)
            if self._settled(engine):
                return True
            pause.wait(0.5)
        _say("the workers did not settle in time")
        return False

    def _settled(self, engine: Any) -> bool:
        with engine.connect() as conn:
            stored = set(conn.execute(select(m.Post.text)).scalars())
            approved = conn.execute(select(func.count()).where(m.Candidate.state == "approved")).scalar_one()
            undos = conn.execute(select(func.count()).where(m.Undo.state == "pending")).scalar_one()
            replies = conn.execute(
                select(func.count()).where(m.MemberRequest.reply_state.in_(["pending", "sending"]))
            ).scalar_one()
            slots = conn.execute(
                select(func.count()).where(m.Publication.state.in_(["done", "failed", "empty", "skipped"]))
            ).scalar_one()
        missing = [t for t in self.made.posts if not any(t in s for s in stored)]
        return not missing and approved == 0 and undos == 0 and replies == 0 and slots >= 2

    def count(self, world: World, store: Store, engine: Any, drained: bool) -> dict[str, float]:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    m.Post.text, m.Post.platform, m.Candidate.id, m.Candidate.state, m.Candidate.last_error
                ).outerjoin(m.Candidate, m.Candidate.post_id == m.Post.id)
            ).all()
            approved_ids = set(
                conn.execute(select(m.Decision.candidate_id).where(m.Decision.action == "approve")).scalars()
            )
            amps = conn.execute(
                select(m.Amplification.candidate_id, m.Amplification.platform, m.Amplification.state)
                .add_columns(m.Amplification.started_at, m.Post.text, m.Account.consent)
                .join(m.Candidate, m.Candidate.id == m.Amplification.candidate_id)
                .join(m.Post, m.Post.id == m.Candidate.post_id)
                .join(m.Account, m.Account.id == m.Post.account_id)
            ).all()
            published = conn.execute(
                select(
                    m.Publication.slot, m.Publication.state, m.Publication.parts_total, m.Publication.error
                )
            ).all()
            # When the bot learnt of each opt-out made by mention: the first such request of the person.
            people = {
                r.id: (r.handle, r.person)
                for r in conn.execute(
                    select(
                        m.Account.id,
                        m.Account.handle,
                        func.coalesce(m.Account.person_id, m.Account.id).label("person"),
                    )
                )
            }
            first: dict[int, datetime] = {}
            for account_id, when in conn.execute(
                select(m.MemberRequest.account_id, m.MemberRequest.received_at).where(
                    m.MemberRequest.kind == "optout"
                )
            ):
                person = people[account_id][1]
                first[person] = min(first.get(person, when), when)
            told = {handle: first[person] for handle, person in people.values() if person in first}
            out_accounts = conn.execute(
                select(m.Account.platform, m.Account.handle).where(m.Account.consent == "out")
            ).all()
        by_words = {w: [r for r in rows if w in r.text] for w in self.made.posts}
        lost_posts = sum(1 for w, found in by_words.items() if not found)
        # On a platform where asking twice would post twice, a lost answer is handed to the
        # curators (failed, "check before retrying by hand"): not lost, not silent, not doubled.
        handed = [
            r for r in rows if r.state == "failed" and "before retrying by hand" in (r.last_error or "")
        ]
        stuck = [
            r for r in rows if r.id in approved_ids and r.state in ("approved", "failed") and r not in handed
        ]
        # Open amplifications of candidates still meant to go out (a withdrawn one may keep its row).
        withdrawn = {r.id for r in rows if r.state == "withdrawn"}
        handed_ids = {r.id for r in handed}
        open_amps = [
            a
            for a in amps
            if a.candidate_id not in withdrawn
            and (a.state in ("intent", "retry") or (a.state == "failed" and a.candidate_id not in handed_ids))
        ]

        # Duplicates, from the platforms themselves: a post amplified more than once, ever.
        twice: list[str] = []
        for words, ref in self.made.refs.items():
            platform = self.made.posts[words][0]
            if platform is Platform.MASTODON:
                twice += [f"mastodon {words!r}"] * max(0, world.mastodon.boosts_made(ref) - 1)
            elif platform is Platform.BLUESKY and words not in self.made.deleted:
                twice += [f"bluesky {words!r}"] * max(0, len(world.bluesky.reposts_of(ref)) - 1)
        copies = Counter(  # by the text first sent: an undo past 48 hours edits the copy
            (msg.edits[0] if msg.edits else msg.text)
            for msg in world.telegram.messages(CHANNEL, by_bot=True, include_deleted=True)
        )
        twice += [f"telegram {t[:40]!r}" for t, n in copies.items() for _ in range(n - 1)]
        duplicates = len(twice)
        for what in twice:
            _say(f"  amplified twice: {what}")
        for p in published:
            if p.state != "done":
                _say(f"  digest slot {p.slot:%H:%M} {p.state}: {p.error}")

        # Consent: nothing of an opted-out member still amplified, nothing started after they said so.
        live = self._live(world)
        out_texts = {w for w, (_, key) in self.made.posts.items() if key in self.made.opted_out}
        # A copy whose answer was lost is live with no id we could delete it by: it went to the
        # curators with the candidate ("check before retrying by hand"), counted apart.
        handed_words = {w for w in self.made.posts for r in handed if w in r.text}
        still_live = [w for w in out_texts if w in live and w not in handed_words]
        untracked = [w for w in out_texts if w in live and w in handed_words]
        for words in untracked:
            _say(f"  opted out, a copy with no id left for the curators: {words!r}")
        late = []
        for a in amps:
            words = next((w for w in self.made.posts if w in a.text), None)
            key = self.made.posts[words][1] if words else None
            said = self.made.opted_out.get(key) if key else None
            if key in self.made.opted_out and said is None:  # by mention: when the bot read it
                said = told.get(self._handle(world, key))
            if said is not None and a.started_at > said + timedelta(seconds=2):
                late.append((key, words, a.started_at - said))  # 2 s: a call already under way
                _say(
                    f"  late: candidate {a.candidate_id} {a.platform} {a.state} at {a.started_at:%H:%M:%S.%f}"
                )
        violations = len(still_live) + len(late)
        for words in still_live:
            _say(f"  opted out but still amplified: {self.made.posts[words][1]} {words!r}")
        for key, words, after in late:
            _say(f"  amplified {after.total_seconds():.1f} s after {key} opted out: {words!r}")

        digest_parts = Counter(p.slot for p in published if p.state == "done")
        counts = {
            "chaos_duplicates": float(duplicates),
            "chaos_lost": float(lost_posts + len(stuck) + len(open_amps) + (0 if drained else 1)),
            "chaos_optout_violations": float(violations),
            "chaos_posts": float(len(self.made.posts)),
            "chaos_amplified": float(sum(1 for a in amps if a.state in ("done", "undone"))),
            "chaos_taken_back": float(sum(1 for a in amps if a.state == "undone")),
            "chaos_digest_slots": float(len(digest_parts)),
            "chaos_handed_to_curators": float(len(handed)),
            "chaos_untracked_after_optout": float(len(untracked)),
        }
        _say(
            f"{len(self.made.posts)} posts, {dict(self.made.decisions)} decisions, "
            f"{len(amps)} amplifications ({Counter(a.state for a in amps)}), "
            f"{len(self.made.opted_out)} opted out ({len(out_accounts)} accounts), "
            f"{len(self.made.deleted)} deleted, digest slots {dict(Counter(p.state for p in published))}"
        )
        if lost_posts or stuck or open_amps:
            _say(
                f"lost: {lost_posts} posts never stored, {len(stuck)} approved not amplified, "
                f"{len(open_amps)} amplifications left open"
            )
            self._explain(engine, [r.id for r in stuck])
        return counts

    def _explain(self, engine: Any, stuck: list[int]) -> None:
        x, c = m.Amplification, m.Candidate
        with engine.connect() as conn:
            for row in conn.execute(
                select(x.candidate_id, x.platform, x.state, x.error).where(
                    x.state.in_(["intent", "retry", "failed"])
                )
            ):
                _say(f"  open amplification: {tuple(row)}")
            for row in conn.execute(
                select(c.id, c.state, c.attempts, c.last_error, c.next_attempt_at).where(c.id.in_(stuck))
            ):
                _say(f"  stuck candidate: {tuple(row)}")

    @staticmethod
    def _handle(world: World, key: str) -> str:
        platform, member = world.members[key]
        if platform is Platform.MASTODON:
            acct = str(member["acct"])
            return acct if "@" in acct else f"{acct}@{world.mastodon.domain}"
        return key

    def _live(self, world: World) -> set[str]:
        """Texts of posts amplified on their platform right now."""
        live = set()
        for words, ref in self.made.refs.items():
            platform = self.made.posts[words][0]
            if (
                platform is Platform.MASTODON
                and world.mastodon.status(ref)
                and world.mastodon.reblogs_of(ref)
            ) or (
                platform is Platform.BLUESKY
                and words not in self.made.deleted
                and world.bluesky.reposts_of(ref)
            ):
                live.add(words)
        for msg in world.telegram.messages(CHANNEL, by_bot=True, include_deleted=False):
            live |= {w for w in self.made.posts if w in msg.text}
        return live
