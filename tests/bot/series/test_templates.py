"""Every text the series write comes from per-language templates: built-in English and Spanish,
overridable in config, checked at start-up."""

from __future__ import annotations

from datetime import date

import pytest

from bot.errors import ConfigError
from bot.series.templates import BUILTIN, FIELDS
from tests.conftest import make_settings


@pytest.mark.parametrize("lang", ["en", "es"])
def test_built_in_languages_have_every_template_with_known_placeholders(lang: str) -> None:
    assert set(BUILTIN[lang]) == set(FIELDS)
    settings = make_settings(community={"slug": "x", "name": "X", "hashtags": ["x"], "languages": [lang]})
    t = settings.series.templates_for(lang)
    assert t.date(date(2026, 3, 9)) == {"en": "Mar 9", "es": "9 mar"}[lang]


def test_an_override_replaces_one_text_and_keeps_the_rest() -> None:
    settings = make_settings(series={"templates": {"es": {"digest_closing_soon": " 🔥 ¡última semana!"}}})
    t = settings.series.templates_for("es")
    assert t.texts["digest_closing_soon"] == " 🔥 ¡última semana!"
    assert t.texts["digest_deadline"] == BUILTIN["es"]["digest_deadline"]


def test_a_new_language_must_bring_every_template() -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(
            community={"slug": "x", "name": "X", "hashtags": ["x"], "languages": ["en", "pt"]},
            series={"templates": {"pt": {"digest_header": "Oportunidades"}}},
        )
    assert err.value.key == "series.templates.pt"
    assert "give every template" in err.value.reason
    complete = {name: BUILTIN["es"][name] for name in FIELDS}
    settings = make_settings(
        community={"slug": "x", "name": "X", "hashtags": ["x"], "languages": ["en", "pt"]},
        series={"templates": {"pt": complete}},
    )
    assert settings.series.templates_for("pt").language == "pt"


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("digest_header", "Week of {when}", "unknown placeholder {when}"),
        ("digest_header", "Week of {date.year}", "unknown placeholder"),
        ("digest_header", "Week of {date", "not a valid template"),
        ("digest_headline", "Hi", "unknown template"),
        ("months", "Jan Feb", "twelve month names"),
    ],
)
def test_a_broken_template_stops_start_up_naming_it(name: str, text: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(series={"templates": {"en": {name: text}}})
    assert err.value.key == f"series.templates.en.{name}"
    assert says in err.value.reason
