"""An opportunities file uploaded from a browser is untrusted bytes: too big, not UTF-8 or binary
is refused before it is read as YAML; problems are numbered from 1 and name the file by what was
sent, never by a path on the host; a good file imports as `import_file` does."""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.config import Settings
from bot.ops import opportunities
from bot.ops.result import Outcome, Result
from bot.series.opportunities import OpportunityList
from bot.store.store import Store
from tests.bot.ops.test_series_ops import NOW

GOOD = """\ufeffopportunities:
  - title: "<script>alert(1)</script> Summer grant"
    url: https://grants.example/summer
    kind: scholarship
    deadline: 2026-06-01
"""
BAD = b"""- title: Fine
  url: https://ok.example
- title: "<b>x</b>"
  url: javascript:alert(1)
- url: ftp://nope
"""


def test_an_upload_is_checked_before_it_is_read(store: Store, settings: Settings) -> None:
    def upload(data: bytes, name: str = "list.yaml") -> Result[opportunities.Imported]:
        return opportunities.import_upload(store, settings, NOW, "ana", data, name)

    big = upload(b"#" * (opportunities.MAX_UPLOAD_BYTES + 1))
    assert (big.outcome, big.message) == (
        Outcome.USAGE,
        "list.yaml: 256 KB is too big to import (at most 256 KB)",
    )
    assert upload("título: ñ".encode("latin-1")).message == "list.yaml: not a text file in UTF-8"
    assert "NUL" in upload(b"- title: x\x00").message
    assert (
        opportunities.import_upload(store, settings, NOW, "mallory", GOOD.encode(), "x").outcome
        is Outcome.USAGE
    )

    refused = upload(BAD, "C:\\Users\\ana\\..\\..\\secret/../../etc/passwd")
    assert refused.outcome is Outcome.REFUSED
    assert refused.message.startswith("passwd: nothing imported, fix these first:\n  1. entry 2")
    assert "\n  2. entry 3" in refused.message
    assert OpportunityList(store).all() == []  # one bad entry: none imported

    good = upload(GOOD.encode("utf-8"), "")
    assert good.outcome is Outcome.DONE
    assert good.data is not None
    (added,) = good.data.added
    assert (added.title, added.submitted_by, added.source) == (
        "<script>alert(1)</script> Summer grant",
        "ana",
        "import",
    )


def test_no_bytes_make_the_upload_raise(store: Store, settings: Settings) -> None:
    @hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.binary(max_size=300), st.text(max_size=40))
    def any_bytes(data: bytes, name: str) -> None:
        result = opportunities.import_upload(store, settings, NOW, "ana", data, name)
        assert result.outcome in (Outcome.DONE, Outcome.REFUSED, Outcome.USAGE)
        assert "/tmp" not in result.message

    any_bytes()
