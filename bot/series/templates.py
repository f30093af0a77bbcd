"""Every sentence the bot writes in the series, per language: built-in English and Spanish,
overridden or extended from ``series.templates`` in the config, checked once at start-up."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.errors import ConfigError

KINDS = ("scholarship", "fellowship", "rotation", "job", "award", "event", "other")

# template key -> the placeholders it may use
FIELDS: dict[str, frozenset[str]] = {
    key: frozenset(names)
    for key, names in {
        "date": ("day", "month", "year"),
        "months": (),
        "digest_header": ("community", "date", "hashtag", "tag", "count"),
        "digest_footer": ("community", "hashtag", "tag"),
        "digest_call": ("community", "date", "hashtag", "tag"),
        "digest_entry": ("title", "organisation", "deadline", "eligibility", "link"),
        "digest_organisation": ("organisation",),
        "digest_deadline": ("date", "days"),
        "digest_closing_soon": ("date", "days"),
        "digest_no_deadline": (),
        "digest_eligibility": ("eligibility",),
        **{f"kind_{kind}": () for kind in KINDS},
        "interview_post": ("name", "handle", "answers", "hashtag", "community"),
        "interview_answer": ("label", "answer", "question"),
        "interview_invite": ("name", "community", "questions", "count"),
        "interview_consent_request": ("name", "text"),
        "interview_confirmed": ("name",),
        "interview_withdrawn": ("name",),
        "opportunity_added": ("title",),
        "opportunity_merged": ("title",),
    }.items()
}

BUILTIN: dict[str, dict[str, str]] = {
    "en": {
        "date": "{month} {day}",
        "months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
        "digest_header": "📢 {community} opportunities, week of {date}",
        "digest_footer": "Know of one? Post it with {hashtag} {tag}",
        "digest_call": (
            "📢 No opportunities on our list this week. Know of a scholarship, rotation, fellowship "
            "or job? Post it with {hashtag} {tag} and we will share it next week."
        ),
        "digest_entry": "• {title}{organisation}{deadline}{eligibility}\n{link}",
        "digest_organisation": " — {organisation}",
        "digest_deadline": " · closes {date}",
        "digest_closing_soon": " ⏳ closing soon",
        "digest_no_deadline": "",
        "digest_eligibility": " · for {eligibility}",
        "kind_scholarship": "🎓 Scholarships",
        "kind_fellowship": "🔬 Fellowships",
        "kind_rotation": "🏥 Rotations",
        "kind_job": "💼 Jobs",
        "kind_award": "🏆 Awards",
        "kind_event": "📅 Events",
        "kind_other": "✨ More",
        "interview_post": "🎙️ Mini-interview: meet {name} {handle}\n\n{answers}\n\n{hashtag}",
        "interview_answer": "{label} {answer}",
        "interview_invite": (
            "Hi {name}! Would you like to be featured in the {community} mini-interview? "
            "It is {count} short questions; your answers become one short post, and you see and "
            "approve the final text before anything is published.\n\n{questions}"
        ),
        "interview_consent_request": (
            "Here is your mini-interview, exactly as it will be posted:\n\n{text}\n\n"
            "Reply yes to confirm, or tell us what to change. You can withdraw at any time, "
            "even after it is published."
        ),
        "interview_confirmed": "Thank you, {name}! Your mini-interview is in the queue for an upcoming slot.",
        "interview_withdrawn": "Done, {name}: your mini-interview is withdrawn and any posts of it deleted.",
        "opportunity_added": "Thanks! “{title}” is on the list for the next digest.",
        "opportunity_merged": "“{title}” was already on the list; we added what was new.",
    },
    "es": {
        "date": "{day} {month}",
        "months": "ene feb mar abr may jun jul ago sep oct nov dic",
        "digest_header": "📢 Oportunidades de {community}, semana del {date}",
        "digest_footer": "¿Conoces otra? Publícala con {hashtag} {tag}",
        "digest_call": (
            "📢 Esta semana no tenemos oportunidades en la lista. ¿Conoces una beca, rotación, "
            "beca de formación o empleo? Publícala con {hashtag} {tag} y la compartiremos la próxima semana."
        ),
        "digest_entry": "• {title}{organisation}{deadline}{eligibility}\n{link}",
        "digest_organisation": " — {organisation}",
        "digest_deadline": " · cierra el {date}",
        "digest_closing_soon": " ⏳ ¡cierra pronto!",
        "digest_no_deadline": "",
        "digest_eligibility": " · para {eligibility}",
        "kind_scholarship": "🎓 Becas",
        "kind_fellowship": "🔬 Becas de formación",
        "kind_rotation": "🏥 Rotaciones",
        "kind_job": "💼 Empleos",
        "kind_award": "🏆 Premios",
        "kind_event": "📅 Eventos",
        "kind_other": "✨ Más",
        "interview_post": "🎙️ Mini-entrevista: te presentamos a {name} {handle}\n\n{answers}\n\n{hashtag}",
        "interview_answer": "{label} {answer}",
        "interview_invite": (
            "¡Hola, {name}! ¿Te gustaría participar en la mini-entrevista de {community}? Son "
            "{count} preguntas cortas; tus respuestas se convierten en una publicación breve, y "
            "verás y aprobarás el texto final antes de que se publique.\n\n{questions}"
        ),
        "interview_consent_request": (
            "Esta es tu mini-entrevista, tal como se publicará:\n\n{text}\n\n"
            "Responde sí para confirmarla, o dinos qué cambiar. Puedes retirarla en cualquier "
            "momento, incluso después de publicada."
        ),
        "interview_confirmed": "¡Gracias, {name}! Tu mini-entrevista está en la cola para una próxima fecha.",
        "interview_withdrawn": "Listo, {name}: retiramos tu mini-entrevista y borramos sus publicaciones.",
        "opportunity_added": "¡Gracias! «{title}» está en la lista para el próximo resumen.",
        "opportunity_merged": "«{title}» ya estaba en la lista; añadimos lo que era nuevo.",
    },
}


# Who an opportunity is for, as its data says it (lower case, often in English), in the words of
# each digest's language. A word not here is shown as written: better a member's own word than a
# wrong guess.
ELIGIBILITY_WORDS: dict[str, dict[str, str]] = {
    "es": {
        "students": "estudiantes",
        "student": "estudiantes",
        "medical students": "estudiantes de medicina",
        "premeds": "estudiantes de premédica",
        "pre-meds": "estudiantes de premédica",
        "undergraduates": "estudiantes de grado",
        "graduate students": "estudiantes de posgrado",
        "residents": "residentes",
        "resident": "residentes",
        "interns": "internas e internos",
        "fellows": "especialistas en formación",
        "physicians": "médicas y médicos",
        "doctors": "médicas y médicos",
        "nurses": "enfermeras y enfermeros",
        "researchers": "investigadoras e investigadores",
        "faculty": "docentes",
        "early career": "inicio de carrera",
        "early-career": "inicio de carrera",
        "women": "mujeres",
        "everyone": "todas las personas",
        "anyone": "todas las personas",
    },
    "en": {
        "estudiantes": "students",
        "estudiantes de medicina": "medical students",
        "residentes": "residents",
        "médicas": "physicians",
        "médicos": "physicians",
        "enfermeras": "nurses",
        "enfermería": "nurses",
        "investigadoras": "researchers",
        "docentes": "faculty",
        "profesoras": "faculty",
    },
}


def _check(key: str, text: str, allowed: frozenset[str]) -> None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigError(key, f"is not a valid template ({exc}); write {{{{ and }}}} for braces") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            known = ", ".join("{" + n + "}" for n in sorted(allowed)) or "none"
            raise ConfigError(key, f"unknown placeholder {{{name}}} (this template may use: {known})")


def check_overrides(overrides: Mapping[str, Mapping[str, str]], key: str) -> None:
    """Template overrides name known templates and only the placeholders each may use."""
    for lang, texts in overrides.items():
        for name, text in texts.items():
            where = f"{key}.{lang}.{name}"
            if name not in FIELDS:
                raise ConfigError(where, f"unknown template (expected one of: {', '.join(FIELDS)})")
            _check(where, text, FIELDS[name])
            if name == "months" and len(text.split()) != 12:
                raise ConfigError(where, "expected the twelve month names, separated by spaces")


@dataclass(frozen=True)
class Templates:
    """The texts of one language."""

    language: str
    texts: Mapping[str, str]

    def render(self, template: str, **values: Any) -> str:
        return self.texts[template].format(**values)

    def date(self, day: date) -> str:
        month = self.texts["months"].split()[day.month - 1]
        return self.render("date", day=day.day, month=month, year=day.year)

    def kind(self, kind: str) -> str:
        return self.texts[f"kind_{kind}"]

    def eligibility(self, word: str) -> str:
        """``word`` (who an opportunity is for) in this language; unknown words as written."""
        return ELIGIBILITY_WORDS.get(self.language, {}).get(word.strip().lower(), word)


def templates_for(language: str, overrides: Mapping[str, Mapping[str, str]], key: str) -> Templates:
    """The built-in texts of ``language`` with the config's overrides on top; every key needed."""
    texts = {**BUILTIN.get(language, {}), **overrides.get(language, {})}
    missing = [name for name in FIELDS if name not in texts]
    if missing:
        shown = ", ".join(missing[:6]) + (" …" if len(missing) > 6 else "")
        raise ConfigError(
            f"{key}.{language}",
            f"no built-in texts for language {language!r}: give every template ({shown})",
        )
    return Templates(language, texts)
