"""Read JSON a person wrote strictly: a key written twice in one object is refused, with its line.

Python's `json` keeps the last of two equal keys without a word, so an application file with
`"area": "amber-valley", "area": "bolsover"` opened a Bolsover case (issue 12, defect 9). Every
JSON file cspflow reads from a person (application, step and answer files, key rings, exported
histories) goes through `loads`, which refuses the duplicate as a `json.JSONDecodeError` naming
the key and both lines, so a reader reports it like any other JSON mistake. It is the JSON twin
of activities/strict_yaml.py.

The standard library's C scanner cannot report where a key was, so this uses its pure-Python
scanner (`json.scanner.py_make_scanner`) with an object parser that notes where each value
starts; input files are at most 1 MiB, which it reads in well under a second.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from collections.abc import Callable
from typing import Any

from schemas.validation import shown


def _key_start(text: str, value_start: int) -> int:
    """Where the key of the value starting at `value_start` begins (its opening quote)."""
    end = text.rfind(":", 0, value_start) - 1
    while text[end] in " \t\r\n":
        end -= 1
    start = end - 1
    while start > 0:
        if text[start] == '"':
            backslashes = 0
            while text[start - 1 - backslashes] == "\\":
                backslashes += 1
            if backslashes % 2 == 0:
                return start
        start -= 1
    return start


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


class _StrictDecoder(json.JSONDecoder):
    """A JSONDecoder whose objects refuse a key that appears twice."""

    def __init__(self, *, parse_constant: Callable[[str], Any] | None = None) -> None:
        super().__init__(parse_constant=parse_constant)
        self.parse_object = self._parse_object
        self.scan_once = json.scanner.py_make_scanner(self)  # type: ignore[attr-defined]

    def _parse_object(
        self,
        s_and_end: tuple[str, int],
        strict: bool,
        scan_once: Callable[[str, int], tuple[Any, int]],
        object_hook: Any,
        object_pairs_hook: Any,
        memo: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], int]:
        text = s_and_end[0]
        value_starts: list[int] = []

        def noting(string: str, index: int) -> tuple[Any, int]:
            value_starts.append(index)
            return scan_once(string, index)

        def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            first: dict[str, int] = {}
            for (key, _), value_start in zip(pairs, value_starts, strict=True):
                start = _key_start(text, value_start)
                if key in first:
                    raise json.JSONDecodeError(
                        f"the key {shown(key)} appears twice in one object (first on line "
                        f"{_line(text, first[key])}); only one can count: remove or rename one",
                        text,
                        start,
                    )
                first[key] = start
            return dict(pairs)

        return json.decoder.JSONObject(  # type: ignore[attr-defined]
            s_and_end, strict, noting, None, unique, memo
        )


def loads(text: str, *, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """Parse JSON like `json.loads`, refusing a key written twice in one object.

    Raises `json.JSONDecodeError` (a ValueError) naming the key, the line of its first
    appearance, and with `lineno`/`colno` at the second.
    """
    return _StrictDecoder(parse_constant=parse_constant).decode(text)
