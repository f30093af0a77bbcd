"""The console's own words in English and Spanish. Words an operation says come from its
``Result`` (``bot.ops.messages``), so the console, the command line and Telegram agree."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableSet, Sequence
from datetime import date

from bot.ops.web_access import LANGUAGES

NAMES = {"en": "English", "es": "Español"}

# key: (English, Spanish). Placeholders in {braces} are filled by ``t(key, name=value)``.
STRINGS: dict[str, tuple[str, str]] = {
    "console": ("Curators' console", "Consola de curadoras"),
    "skip": ("Skip to content", "Saltar al contenido"),
    "nav": ("Pages", "Páginas"),
    "signed_in_as": ("Signed in as {curator}", "Sesión de {curator}"),
    "sign_out": ("Sign out", "Cerrar sesión"),
    "sign_out_everywhere": ("Sign out everywhere", "Cerrar sesión en todas partes"),
    "language": ("Language", "Idioma"),
    "sign_in": ("Sign in", "Entrar"),
    "sign_in_title": ("Sign in to the console", "Entrar a la consola"),
    "sign_in_ask": (
        "Ask the bot for a sign-in link: send /signin to it in a private chat on Telegram, or ask"
        " an admin to run “python -m bot web send-link --as YOUR-NAME”. Each link works once,"
        " for 15 minutes.",
        "Pide al bot un enlace para entrar: envíale /signin en un chat privado de Telegram, o pide"
        " a quien administra que ejecute “python -m bot web send-link --as TU-NOMBRE”. Cada enlace"
        " sirve una vez, durante 15 minutos.",
    ),
    "sign_in_confirm": (
        "This link signs you in to the curators' console of {community}, once.",
        "Este enlace te hace entrar, una sola vez, a la consola de curadoras de {community}.",
    ),
    "forbidden": ("Not allowed", "No permitido"),
    "forbidden_csrf": (
        "This form has expired or did not come from this console. Reload the page and try again.",
        "Este formulario caducó o no vino de esta consola. Recarga la página e inténtalo otra vez.",
    ),
    "not_found": ("Page not found", "Página no encontrada"),
    "health": ("Health", "Estado"),
    "health_platform": ("Platform", "Plataforma"),
    "health_last_watch": ("Last good watch", "Última lectura correcta"),
    "health_errors": ("Errors in a row", "Errores seguidos"),
    "health_queue": ("Waiting for curators", "Esperando a curadoras"),
    "health_state": ("Keeping up?", "¿Al día?"),
    "health_stale": ("behind", "retrasada"),
    "health_ok": ("keeping up", "al día"),
    "never": ("never", "nunca"),
    "freeze_on": ("Amplification is frozen.", "La amplificación está congelada."),
    "freeze_off": ("Amplification is running.", "La amplificación está en marcha."),
    "freeze": ("Freeze all amplification", "Congelar toda la amplificación"),
    "unfreeze": ("Let approved posts go out again", "Dejar salir de nuevo lo aprobado"),
    "freeze_confirm": (
        "Stop all amplification on every platform now?",
        "¿Detener ahora toda la amplificación en todas las plataformas?",
    ),
    "undo_backlog": ("Undos waiting", "Deshacer pendientes"),
    "reply_backlog": ("Replies waiting", "Respuestas pendientes"),
    "close": ("Close", "Cerrar"),
}


# Day and month names, so a date on a page is in the curator's language (strftime's are English).
DAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
}
MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
}


def day_label(language: str, day: date, *, year: bool = False) -> str:
    """``Wed 04 Mar`` / ``mié 04 mar`` (with the year when asked)."""
    lang = language if language in DAYS else "en"
    text = f"{DAYS[lang][day.weekday()]} {day.day:02d} {MONTHS[lang][day.month - 1]}"
    return f"{text} {day.year}" if year else text


def language_of(choice: str | None, community_languages: Sequence[str]) -> str:
    """The language a page is shown in: the curator's choice when the console speaks it, else the
    community's first language the console speaks, else English."""
    offered = offered_languages(community_languages)
    return choice if choice in offered else offered[0]


def offered_languages(community_languages: Sequence[str]) -> list[str]:
    return [lang for lang in dict.fromkeys(community_languages) if lang in LANGUAGES] or ["en"]


def translator(
    language: str,
    strings: Mapping[str, tuple[str, str]] = STRINGS,
    missing: MutableSet[str] | None = None,
) -> Callable[..., str]:
    """``t(key, **values)``: the words of ``key`` in ``language``, placeholders filled (the values
    are escaped by the template like any other). A key with no words shows as itself and is
    added to ``missing``, so a test (and the logs) can tell a page fell back."""
    index = LANGUAGES.index(language) if language in LANGUAGES else 0

    def t(key: str, **values: object) -> str:
        if key in strings:
            text = strings[key][index]
        else:
            text = key
            if missing is not None:
                missing.add(key)
        return text.format(**values) if values else text

    return t
