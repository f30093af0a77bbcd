"""What a community sets for its series in ``series:``: the schedule, the digest, the interview
questions and the per-language templates. Checked once at start-up, naming the key at fault."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

from bot.domain import Platform, normalize_tag
from bot.errors import ConfigError
from bot.schema import number
from bot.series.schedule import CronRule, zone
from bot.series.templates import KINDS, Templates, check_overrides, templates_for

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


@dataclass(frozen=True)
class Question:
    """One mini-interview question, asked in the member's language."""

    id: str
    text: Mapping[str, str]  # language -> the question as asked
    label: str | Mapping[str, str] = ""  # what precedes the answer in the post (an emoji, a word)
    required: bool = True

    def validate(self, key: str) -> None:
        if not _NAME.match(self.id):
            raise ConfigError(f"{key}.id", "expected a short name: lowercase letters, digits, - or _")
        if not self.text:
            raise ConfigError(f"{key}.text", "expected the question in at least one language")

    def asked(self, language: str) -> str:
        return self.text.get(language) or next(iter(self.text.values()))

    def label_in(self, language: str) -> str:
        if isinstance(self.label, str):
            return self.label
        return self.label.get(language, "")


def _q(qid: str, label: str, en: str, es: str) -> Question:
    return Question(qid, MappingProxyType({"en": en, "es": es}), label)


DEFAULT_QUESTIONS = (
    _q("role", "🩺", "What is your role, and your specialty?", "¿Cuál es tu rol y tu especialidad?"),
    _q("goals", "🎯", "What are you working towards?", "¿Hacia qué meta estás trabajando?"),
    _q("outside", "🌱", "Something you love outside medicine?", "¿Algo que te encante fuera de la medicina?"),
    _q(
        "advice",
        "💡",
        "Your advice for someone starting out?",
        "¿Tu consejo para alguien que está empezando?",
    ),
)


@dataclass(frozen=True)
class SeriesRule:
    """One series on the schedule: what it publishes, when, where and in which languages."""

    name: str  # its name in the publications table and the logs: digest, entrevista…
    kind: Literal["digest", "interview", "numbers"]  # numbers: the past month's "community in numbers"
    cron: str  # minute hour day month day-of-week, e.g. "0 9 * * mon"
    timezone: str | None = None  # default: series.timezone
    languages: tuple[str, ...] = ()  # default: community.languages
    platforms: tuple[Platform, ...] = ()  # default: every enabled platform
    enabled: bool = True

    def validate(self, key: str) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"{key}.name", "expected a short name: lowercase letters, digits, - or _")
        try:
            rule = CronRule.parse(self.cron, "UTC")
        except ValueError as exc:
            raise ConfigError(f"{key}.cron", str(exc)) from None
        if not rule.ever_fires():
            raise ConfigError(f"{key}.cron", f"{self.cron!r} never fires: no date matches it")
        if self.timezone is not None:
            try:
                zone(self.timezone)
            except ValueError as exc:
                raise ConfigError(f"{key}.timezone", str(exc)) from None


@dataclass(frozen=True)
class OpportunitySettings:
    tag: str = "opportunity"  # with the community hashtag, marks a member's post as an opportunity
    closing_soon_days: int = number(7, 0, 366, unit="days")
    call_for_submissions: bool = False  # an empty week posts the call instead of nothing
    show_eligibility: bool = True

    def validate(self, key: str) -> None:
        if not normalize_tag(self.tag) or any(c.isspace() for c in self.tag):
            raise ConfigError(f"{key}.tag", f"{self.tag!r} is not a hashtag")

    @property
    def normalized_tag(self) -> str:
        return normalize_tag(self.tag)


@dataclass(frozen=True)
class InterviewSettings:
    # the series' tradition: one short post, whatever the platform allows
    max_length: int = number(280, 50, 10_000, unit="characters")
    questions: tuple[Question, ...] = DEFAULT_QUESTIONS

    def validate(self, key: str) -> None:
        if not self.questions:
            raise ConfigError(f"{key}.questions", "expected at least one question")
        ids = [q.id for q in self.questions]
        for i, qid in enumerate(ids):
            if ids.index(qid) != i:
                raise ConfigError(f"{key}.questions[{i}].id", f"{qid!r} is listed twice")


@dataclass(frozen=True)
class SeriesSettings:
    timezone: str = "UTC"  # the schedule's default time zone
    # a slot missed while down still runs this long after its time
    grace_hours: float = number(6.0, 0, 24 * 31, unit="hours")
    schedule: tuple[SeriesRule, ...] = ()
    opportunities: OpportunitySettings = field(default_factory=OpportunitySettings)
    interviews: InterviewSettings = field(default_factory=InterviewSettings)
    templates: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))

    def validate(self, key: str) -> None:
        try:
            zone(self.timezone)
        except ValueError as exc:
            raise ConfigError(f"{key}.timezone", str(exc)) from None
        names = [r.name for r in self.schedule]
        for i, name in enumerate(names):
            if names.index(name) != i:
                raise ConfigError(f"{key}.schedule[{i}].name", f"{name!r} is listed twice")
        check_overrides(self.templates, f"{key}.templates")

    def check(self, languages: Sequence[str], platforms: Mapping[Platform, Any]) -> None:
        """What can only be checked against the rest of the config: every language the series
        write in has all its templates, and every platform a rule names is configured."""
        for lang in dict.fromkeys([*languages, *(x for r in self.schedule for x in r.languages)]):
            templates_for(lang, self.templates, "series.templates")
        for i, rule in enumerate(self.schedule):
            for j, platform in enumerate(rule.platforms):
                if platform not in platforms:
                    raise ConfigError(
                        f"series.schedule[{i}].platforms[{j}]",
                        f"{platform.value} is not configured under platforms",
                    )

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.grace_hours)

    def rule(self, name: str) -> SeriesRule:
        for rule in self.schedule:
            if rule.name == name:
                return rule
        known = ", ".join(r.name for r in self.schedule) or "none configured"
        raise ConfigError("series.schedule", f"no series named {name!r} (known: {known})")

    def zone_of(self, rule: SeriesRule) -> str:
        return rule.timezone or self.timezone

    def templates_for(self, language: str) -> Templates:
        return templates_for(language, self.templates, "series.templates")


__all__ = [
    "DEFAULT_QUESTIONS",
    "KINDS",
    "InterviewSettings",
    "OpportunitySettings",
    "Question",
    "SeriesRule",
    "SeriesSettings",
]
