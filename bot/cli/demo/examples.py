"""Files the demo leaves for the README's "carry on by hand" commands, to try and to copy."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import yaml

from bot import files


def examples(directory: Path, day: date, *, next_interview: int) -> list[Path]:
    """Files for the README's "carry on by hand" commands, to try and to copy: an opportunities
    list to import, the answers to the interview the README's `interviews invite` creates (the
    next one after the demo's), and a curator's shorter wording of that interview."""
    opportunities = directory / "opportunities.yaml"
    files.write_text(
        opportunities,
        "# Opportunities to import: python -m bot opportunities import FILE --as ana\n"
        "# title and url are required; kind, organisation, deadline (YYYY-MM-DD), eligibility\n"
        "# and language are optional. A file with a mistake is refused whole.\n"
        + yaml.safe_dump(
            [
                {
                    "title": "Rotation in global surgery",
                    "url": "https://hospital.example.org/rotations/global-surgery",
                    "kind": "rotation",
                    "organisation": "Example Teaching Hospital",
                    "deadline": day + timedelta(days=21),
                    "eligibility": ["students"],
                },
                {
                    "title": "Award for community health mentors",
                    "url": "https://awards.example.org/mentors",
                    "kind": "award",
                    "deadline": day + timedelta(days=60),
                    "eligibility": ["residents", "attendings"],
                },
            ],
            sort_keys=False,
            allow_unicode=True,
        ),
    )
    answers = directory / "interview-answers.yaml"
    files.write_text(
        answers,
        f"# The answers to interview #{next_interview} (the one the README's `interviews invite` creates),\n"
        "# as a member sends back the file `--write` gave her. A new member's answers can give\n"
        "# name:, language: and handle: instead of interview:.\n"
        + yaml.safe_dump(
            {
                "interview": next_interview,
                "answers": {
                    "role": "Residente de pediatría en Chicago.",
                    "goals": "Abrir una clínica bilingüe para familias migrantes.",
                    "outside": "Correr a la orilla del lago.",
                    "advice": "Guarda tus logros por escrito: te harán falta.",
                },
            },
            sort_keys=False,
            allow_unicode=True,
        ),
    )
    shorter = directory / "shorter.txt"
    files.write_text(
        shorter,
        "Conoce a la Dra. María Pérez, residente de pediatría en Chicago.\n"
        "Sueña con una clínica bilingüe para familias migrantes.\n"
        "Su consejo: guarda tus logros por escrito.\n\n#LatinasInMedicine\n",
    )
    return [opportunities, answers, shorter]
