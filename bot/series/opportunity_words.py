"""What the words of a member's post give away about an opportunity: its kind, a deadline
written in English or Spanish ("April 3", "3 de abril", an ISO date) and who may apply."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date

KIND_WORDS = {
    "scholarship": ("scholarship", "beca", "bursary", "grant", "financial aid"),
    "fellowship": ("fellowship",),
    "rotation": ("rotation", "rotación", "rotacion", "elective", "externship", "away rotation"),
    "job": ("job", "position", "hiring", "vacancy", "empleo", "vacante", "puesto", "plaza"),
    "award": ("award", "prize", "premio", "reconocimiento"),
    "event": ("conference", "webinar", "workshop", "event", "congreso", "evento", "taller", "summit"),
}
ELIGIBILITY_WORDS = {
    "premeds": ("premed", "pre-med", "premédic"),
    "students": ("student", "estudiante"),
    "residents": ("resident", "residente"),
    "fellows": ("fellows",),
    "faculty": ("faculty", "profesora", "docente"),
}
_EN_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ES_MONTHS = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")
_MONTHS = {
    **{m: i for i, m in enumerate(_EN_MONTHS, 1)},
    **{m: i for i, m in enumerate(_ES_MONTHS, 1)},
    "sept": 9,
    "set": 9,
}
_ISO_DATE = re.compile(r"\b(20\d\d)-(\d\d)-(\d\d)\b")
_MONTH_DAY = re.compile(r"\b([a-záéíóú]{3,10})\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(20\d\d))?\b", re.I)
_DAY_MONTH = re.compile(r"\b(\d{1,2})\s+(?:de\s+)?([a-záéíóú]{3,10})\.?(?:\s+(?:de\s+)?(20\d\d))?\b", re.I)
HASHTAG = re.compile(r"(?:^|(?<=\s))[#＃]\w+")


def _month(word: str) -> int | None:
    word = unicodedata.normalize("NFKD", word.lower()).encode("ascii", "ignore").decode()
    return _MONTHS.get(word[:4]) or _MONTHS.get(word[:3])


def deadline_in(text: str, posted: date) -> date | None:
    """A deadline written in a member's post: an ISO date, "April 3", "3 de abril"…; without a
    year, the next such day from when it was posted."""
    m = _ISO_DATE.search(text)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    for pattern, month_group, day_group in ((_MONTH_DAY, 1, 2), (_DAY_MONTH, 2, 1)):
        for found in pattern.finditer(text):
            month = _month(found[month_group])
            if month is None:
                continue
            year = int(found[3]) if found[3] else posted.year
            try:
                day = date(year, month, int(found[day_group]))
            except ValueError:
                continue
            if not found[3] and day < posted:
                day = day.replace(year=year + 1)
            return day
    return None


def words_in(text: str, table: Mapping[str, tuple[str, ...]]) -> list[str]:
    low = text.casefold()
    return [name for name, words in table.items() if any(w in low for w in words)]


def guess_kind(text: str) -> str:
    """The kind the words of ``text`` give away (a scholarship, a job…), or "other"."""
    kinds = words_in(text, KIND_WORDS)
    return kinds[0] if kinds else "other"
