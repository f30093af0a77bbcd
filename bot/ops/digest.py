"""The digest preview: exactly what the next digest would post, per platform and language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain import Platform
from bot.ops import series_messages as say
from bot.ops.result import Result, done, usage
from bot.ops.schedule import local
from bot.series.runner import SeriesRunner


@dataclass(frozen=True)
class Edition:
    series: str
    language: str
    platform: str
    slot: datetime
    parts: list[str]
    entries: int
    left_out: list[int]  # opportunity ids too long for one post even shortened


def preview(
    runner: SeriesRunner,
    *,
    platform: Platform | None = None,
    language: str | None = None,
    at: datetime | None = None,
) -> Result[list[Edition]]:
    """Every edition the next digest slot (or a digest published ``at``) would post, part by
    part. No platform configured, or no digest in the language asked for, is a usage result."""
    settings = runner.settings
    if platform is None and not settings.enabled_platforms():
        rules = [r for r in runner.rules.values() if r.kind == "digest"]
        if not any(runner.platforms(r) for r in rules):
            return usage(say.no_platform_configured("there is no digest to preview"))
    previews = runner.preview(platform=platform, language=language, at=at)
    if not previews:
        langs = sorted(
            {lang for r in runner.rules.values() if r.kind == "digest" for lang in runner.languages(r)}
        )
        return usage(
            say.no_digest_matches(
                platform.value if platform else None, language, langs or list(settings.community.languages)
            )
        )
    editions: list[Edition] = []
    blocks: list[str] = []
    for p in previews:
        parts = p.digest.parts
        what = f"{len(parts)} part{'s' if len(parts) != 1 else ''}" if parts else "nothing is posted"
        rule = runner.rules.get(p.series)
        tz = settings.series.zone_of(rule) if rule else settings.series.timezone
        lines = [f"=== {p.series} · {p.language} · {p.platform.value} · {local(p.slot, tz)} · {what} ==="]
        for j, part in enumerate(parts, 1):
            if len(parts) > 1:
                lines.append(f"--- part {j} of {len(parts)} ---")
            lines.append(part)
        lines += [say.left_out(o.id, p.platform.value) for o in p.digest.left_out]
        blocks.append("\n".join(lines))
        editions.append(
            Edition(
                p.series,
                p.language,
                p.platform.value,
                p.slot,
                list(parts),
                p.digest.entries,
                [o.id for o in p.digest.left_out],
            )
        )
    return done("\n\n".join(blocks), editions)
