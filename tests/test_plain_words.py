"""System text in a person's words (schemas/plain_words.py; issue 12, "Words")."""

from __future__ import annotations

import pytest

from schemas.plain_words import plain


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("(ASBCPA 2014 s.104(3), Sch 4 para 7).", "section 104(3), Schedule 4, paragraph 7)."),
        ("Sch 4 para 3 says so", "Schedule 4, paragraph 3 says so"),
        ("Sch 4", "Schedule 4"),
    ],
)
def test_a_schedule_reference_reads_as_words_without_a_stray_comma(code: str, words: str) -> None:
    assert plain(code).endswith(words)
