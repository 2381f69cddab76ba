"""Forms generated from the schemas: every process's start form and every human step, no page code.

Issue 6: "pages and forms come from the schemas". A form is built from a model's JSON Schema
(pydantic's `model_json_schema`, or the `response_schema` a partner task publishes), so a
process added later, or a field added to a model, appears in the console with no change here.
The GOV.UK Design System patterns follow from the schema's types:

- a date is a date input (day, month, year); a choice (enum, Literal) is radios, or a select
  when there are many; a yes/no is two radios; a list of choices is checkboxes;
- a nested model is a fieldset; a list of models is "add another" (a button that adds an item
  and records nothing, so it works without JavaScript); a list of words is one per line;
- a long text (more than 500 characters allowed) is a textarea;
- the label is the field's title (its name in words when it has none), the hint its
  description (written for a coordinator).

Parsing turns the posted form back into the document the CLI would read from a file, and the
same pydantic model validates it, so the error summary gives the CLI's sentences without the
field's path ("Enter the applicant's name": schemas/error_messages.py), each linked to its
question. A date that is not a real date is reported here, GOV.UK style, before the model sees
it, in the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.error_messages import describe_at, describe_problem, model_of

Widget = Literal[
    "text", "textarea", "number", "date", "radios", "select", "yes-no", "checkboxes", "lines",
    "fieldset", "list",
]  # fmt: skip

Path = tuple[str | int, ...]

T = TypeVar("T")

LONG_TEXT = 500
"""A text field allowing more characters than this is a textarea."""

MANY_CHOICES = 8
"""More choices than this are a select rather than radios (GOV.UK: radios for a few options)."""

MAX_ITEMS = 50
"""An "add another" list never grows past this many items on the page."""

ChoiceSource = Callable[[str], Sequence[tuple[str, str]] | None]
"""Choices for a field by its name (e.g. 'area', 'reported_to'), from the directory; or None."""


@dataclass
class FormField:
    """One question of a generated form, with what was entered and what is wrong with it."""

    path: Path
    label: str
    widget: Widget
    hint: str | None = None
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    children: list[FormField] = field(default_factory=list)
    items: list[list[FormField]] = field(default_factory=list)
    item_label: str = "item"
    min_items: int = 0
    value: Any = None
    error: str | None = None
    date_error_part: str | None = None
    max_length: int | None = None

    @property
    def name(self) -> str:
        """The form key: 'applicant.name', 'victims.0.kind'."""
        return ".".join(str(part) for part in self.path)

    @property
    def id(self) -> str:
        """The element id, also the error summary's link target: 'applicant-name'."""
        return "f-" + "-".join(str(part) for part in self.path).replace("_", "-")

    @property
    def first_input_id(self) -> str:
        """Where an error link should land: the day input of a date, the first radio."""
        if self.widget == "date":
            return f"{self.id}-{self.date_error_part or 'day'}"
        if self.widget in ("radios", "yes-no", "checkboxes"):
            return f"{self.id}-0"
        return self.id


@dataclass
class Form:
    """A generated form: its questions and every problem found, in page order."""

    fields: list[FormField]
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(link target id, message) for the error summary."""


# --------------------------------------------------------------------------------------------
# Reading JSON Schema
# --------------------------------------------------------------------------------------------


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Follow $ref and unwrap 'X or null'; return the schema with 'nullable' set."""
    node = dict(schema)
    nullable = False
    for _ in range(20):  # bounded: a schema is never this deeply aliased
        if "$ref" in node:
            name = str(node["$ref"]).rsplit("/", 1)[-1]
            target = dict(root.get("$defs", {}).get(name, {}))
            target.update({k: v for k, v in node.items() if k != "$ref"})
            node = target
            continue
        options = node.get("anyOf")
        if options:
            rest = [option for option in options if option.get("type") != "null"]
            if len(rest) < len(options):
                nullable = True
            if len(rest) == 1:
                merged = {k: v for k, v in node.items() if k != "anyOf"}
                merged.update(rest[0])
                node = merged
                continue
        break
    node["nullable"] = nullable or node.get("nullable", False)
    return node


def label_for(name: str, node: Mapping[str, Any] | None = None) -> str:
    """A field's label: its schema title if one was given, else its name in words
    ('received_on' -> 'Received on'). Pydantic titles every property ('Received On'); only a
    title that differs from that one was written by a person."""
    words = re.sub(r"[_-]+", " ", name).strip()
    title = (node or {}).get("title")
    if isinstance(title, str) and title and title != name.replace("_", " ").title():
        return title
    return words[:1].upper() + words[1:]


def _choice_label(value: str) -> str:
    return label_for(str(value)) if not str(value).isdigit() else str(value)


def _widget(node: Mapping[str, Any]) -> Widget:
    kind = node.get("type")
    if "enum" in node or "const" in node:
        choices = node.get("enum") or [node.get("const")]
        return "select" if len(choices) > MANY_CHOICES else "radios"
    if kind == "boolean":
        return "yes-no"
    if kind in ("integer", "number"):
        return "number"
    if kind == "string" and node.get("format") == "date":
        return "date"
    if kind == "object":
        return "fieldset"
    if kind == "array":
        return "list"
    max_length = node.get("maxLength")
    if kind == "string" and (max_length is None or max_length > LONG_TEXT):
        return "textarea" if max_length is not None else "text"
    return "text"


# --------------------------------------------------------------------------------------------
# Building a form
# --------------------------------------------------------------------------------------------


def build_form(
    schema: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    *,
    raw: Mapping[str, Sequence[str]] | None = None,
    skip: frozenset[str] = frozenset({"by"}),
    choices_for: ChoiceSource | None = None,
    add_item: str | None = None,
    remove_item: str | None = None,
) -> Form:
    """Build the questions of a model's JSON Schema, filled in.

    Filled from `raw` (a posted form, shown back exactly as typed, even a date that is not a
    date) or else from `values` (a document, e.g. an example). `skip` names top-level fields
    the console fills in (who is acting). `add_item` names a list (by form key) to show with
    one more empty item; `remove_item` an item ('victims.1') to leave out.
    """
    build = _Build(schema, skip, choices_for, raw, add_item, remove_item)
    return Form(fields=build.object_fields(schema, (), values or {}))


@dataclass
class _Build:
    root: Mapping[str, Any]
    skip: frozenset[str]
    choices_for: ChoiceSource | None
    raw: Mapping[str, Sequence[str]] | None
    add_item: str | None
    remove_item: str | None

    def object_fields(self, node: Mapping[str, Any], prefix: Path, values: Any) -> list[FormField]:
        values = values if isinstance(values, Mapping) else {}
        required = set(node.get("required", ()))
        fields = []
        for name, raw_node in node.get("properties", {}).items():
            if not prefix and name in self.skip:
                continue
            resolved = _resolve(raw_node, self.root)
            label = label_for(name, raw_node)
            fields.append(
                self.field(
                    name, resolved, (*prefix, name), values.get(name), name in required, label
                )
            )
        return fields

    def field(
        self, name: str, node: dict[str, Any], path: Path, value: Any, required: bool, label: str
    ) -> FormField:
        widget = _widget(node)
        result = FormField(
            path=path,
            label=label,
            widget=widget,
            hint=node.get("description"),
            required=required and not node["nullable"],
            max_length=node.get("maxLength"),
        )
        sourced = self.choices_for(name) if self.choices_for is not None else None
        if widget in ("radios", "select"):
            options = node.get("enum") or [node.get("const")]
            result.choices = [(str(option), _choice_label(option)) for option in options]
        elif widget == "text" and sourced:
            result.widget = "select"
            result.choices = list(sourced)
        elif widget == "fieldset":
            result.children = self.object_fields(node, path, value)
            return result
        elif widget == "list":
            self.list_field(result, node, value)
            if result.widget == "list":
                return result
        result.value = self.display(result, value)
        return result

    def list_field(self, result: FormField, node: Mapping[str, Any], value: Any) -> None:
        items = _resolve(node.get("items", {}), self.root)
        if "enum" in items:
            result.widget = "checkboxes"
            result.choices = [(str(o), _choice_label(o)) for o in items["enum"]]
            return
        if items.get("type") != "object":
            result.widget = "lines"
            result.hint = (result.hint + " " if result.hint else "") + "One on each line."
            return
        result.min_items = int(node.get("minItems", 0))
        item = node.get("item")
        result.item_label = (
            item if isinstance(item, str) else result.label.lower().removesuffix("s")
        )
        given = list(value) if isinstance(value, list | tuple) else []
        if self.raw is not None:
            indices = list(range(_count(self.raw, result.name)))
        else:
            indices = list(range(len(given)))
        if self.remove_item is not None:
            indices = [i for i in indices if f"{result.name}.{i}" != self.remove_item]
        if self.add_item == result.name:
            indices.append(max(indices, default=-1) + 1)
        if not indices and result.min_items:
            indices = [0]
        for position, index in enumerate(indices[:MAX_ITEMS]):
            item_value = given[index] if index < len(given) else {}
            if self.raw is None:
                result.items.append(self.object_fields(items, (*result.path, position), item_value))
                continue
            # Re-read the posted item under its old index, then renumber it in page order.
            fields = self.object_fields(items, (*result.path, index), item_value)
            result.items.append(_renumber(fields, len(result.path), position))

    def display(self, item: FormField, value: Any) -> Any:
        """What the question shows: as typed when re-shown, else from the document."""
        if self.raw is not None:
            key = item.name
            if item.widget == "date":
                return {part: _first(self.raw, f"{key}.{part}") for part in DATE_PARTS}
            if item.widget == "checkboxes":
                return [str(v) for v in self.raw.get(key) or ()]
            values = self.raw.get(key) or ()
            return str(values[0]) if values else ""
        if value is None:
            return {} if item.widget == "date" else ([] if item.widget == "checkboxes" else "")
        if item.widget == "date":
            return format_date(value)
        if item.widget == "yes-no":
            return "true" if value else "false"
        if item.widget == "checkboxes":
            return [str(v) for v in value]
        if item.widget == "lines":
            return "\n".join(str(v) for v in value)
        return str(value)


DATE_PARTS = ("day", "month", "year")


def _count(raw: Mapping[str, Sequence[str]], key: str) -> int:
    try:
        count = int(_first(raw, f"{key}.count") or 0)
    except ValueError:
        count = 0
    return max(0, min(count, MAX_ITEMS))


def _renumber(fields: list[FormField], depth: int, position: int) -> list[FormField]:
    """Give an item's questions the index of their place on the page."""
    for item in _walk(fields):
        parts = list(item.path)
        parts[depth] = position
        item.path = tuple(parts)
    return fields


# --------------------------------------------------------------------------------------------
# Reading a posted form back into a document
# --------------------------------------------------------------------------------------------


@dataclass
class Posted:
    """A posted form as a document, with the problems only the form can have (dates)."""

    document: dict[str, Any]
    problems: list[tuple[Path, str, dict[str, Any], str | None]] = field(default_factory=list)
    """(path, kind, details, date part at fault) for input the model never sees, e.g. 31
    February: `kind` is 'date_incomplete', 'date_year' or 'date_real' (describe_at)."""


def read_form(
    schema: Mapping[str, Any],
    form: Mapping[str, Sequence[str]],
    *,
    skip: frozenset[str] = frozenset({"by"}),
) -> Posted:
    """Turn posted fields (key -> values) into the document the schema describes.

    Empty answers are left out, so the model's defaults apply and a required field is reported
    as missing. Empty "add another" items are dropped.
    """
    posted = Posted(document={})
    posted.document = _read_object(schema, schema, (), form, skip, posted)
    return posted


def _first(form: Mapping[str, Sequence[str]], key: str) -> str:
    values = form.get(key) or ()
    return str(values[0]).strip() if values else ""


def _read_object(
    node: Mapping[str, Any],
    root: Mapping[str, Any],
    prefix: Path,
    form: Mapping[str, Sequence[str]],
    skip: frozenset[str],
    posted: Posted,
) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name, raw in node.get("properties", {}).items():
        if not prefix and name in skip:
            continue
        value = _read_value(_resolve(raw, root), root, (*prefix, name), form, posted)
        if value is not None:
            document[name] = value
    return document


_BOOLEANS = {"true": True, "yes": True, "false": False, "no": False}


def _read_value(
    node: dict[str, Any],
    root: Mapping[str, Any],
    path: Path,
    form: Mapping[str, Sequence[str]],
    posted: Posted,
) -> Any:
    key = ".".join(str(part) for part in path)
    widget = _widget(node)
    if widget == "date":
        return _read_date(path, key, form, posted)
    if widget == "yes-no":
        text = _first(form, key).lower()
        return _BOOLEANS.get(text, text or None)
    if widget == "number":
        text = _first(form, key)
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            return text  # the model names the field and says a whole number is needed
    if widget == "fieldset":
        inner = _read_object(node, root, path, form, frozenset(), posted)
        return inner or None
    if widget == "list":
        return _read_list(node, root, path, key, form, posted)
    text = _first(form, key)
    return text or None


def _read_list(
    node: Mapping[str, Any],
    root: Mapping[str, Any],
    path: Path,
    key: str,
    form: Mapping[str, Sequence[str]],
    posted: Posted,
) -> list[Any] | None:
    items = _resolve(node.get("items", {}), root)
    if "enum" in items:
        chosen = [str(v) for v in form.get(key) or () if str(v)]
        return chosen or None
    if items.get("type") != "object":
        lines = [line.strip() for line in _first(form, key).splitlines() if line.strip()]
        return lines or None
    count = _count(form, key)
    result = []
    for index in range(count):
        item = _read_object(items, root, (*path, index), form, frozenset(), posted)
        if item:
            result.append(item)
    return result or None


def _read_date(
    path: Path, key: str, form: Mapping[str, Sequence[str]], posted: Posted
) -> str | None:
    parts = {part: _first(form, f"{key}.{part}") for part in DATE_PARTS}
    if not any(parts.values()):
        return None
    missing = [part for part, text in parts.items() if not text]
    if missing:
        posted.problems.append((path, "date_incomplete", {"missing": missing}, missing[0]))
        return None
    try:
        day, month, year = (int(parts[p]) for p in ("day", "month", "year"))
    except ValueError:
        posted.problems.append((path, "date_real", {}, None))
        return None
    if not 1000 <= year <= 9999:
        posted.problems.append((path, "date_year", {}, "year"))
        return None
    if not 1 <= month <= 12:
        posted.problems.append((path, "date_real", {}, "month"))
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        posted.problems.append((path, "date_real", {}, "day"))
        return None


# --------------------------------------------------------------------------------------------
# Problems onto the form
# --------------------------------------------------------------------------------------------


def _walk(fields: Sequence[FormField]) -> list[FormField]:
    found = []
    for item in fields:
        found.append(item)
        found.extend(_walk(item.children))
        for entries in item.items:
            found.extend(_walk(entries))
    return found


def _find(form: Form, path: Path) -> FormField | None:
    """The deepest question at or above `path` (an error on a whole item lands on its list)."""
    by_path = {item.path: item for item in _walk(form.fields)}
    for end in range(len(path), 0, -1):
        if path[:end] in by_path:
            return by_path[path[:end]]
    return None


def attach_problems(
    form: Form,
    posted: Posted | None = None,
    error: ValidationError | None = None,
    model: type[BaseModel] | None = None,
) -> None:
    """Put each problem on its question and in the error summary, in the order found.

    The sentence is the CLI's without the field's path ("Enter the applicant's name", where the
    CLI says "applicant.name: Enter the applicant's name"): the question it links to says where.
    """
    if model is None and error is not None:
        model = model_of(error)
    problems: list[tuple[Path, str, str | None]] = [
        (path, describe_at(model, path, kind, **details), part)
        for path, kind, details, part in (posted.problems if posted else ())
    ]
    reported = {path for path, _, _ in problems}
    if error is not None:
        for problem in error.errors(include_url=False):
            path = tuple(problem["loc"])
            if path in reported:
                continue  # a date the form could not read is 'missing' to the model: said once
            problems.append((path, describe_problem(model, problem), None))
    for path, text, part in problems:
        target = _find(form, path)
        if target is None:
            target = form.fields[0] if form.fields else None
        if target is not None:
            if target.error is None:
                target.error = text
                target.date_error_part = part
            form.errors.append((target.first_input_id, text))
        else:
            form.errors.append(("main-content", text))


def check_posted(
    schema: Mapping[str, Any],
    raw: Mapping[str, Sequence[str]],
    validate: Callable[[dict[str, Any]], T],
    *,
    skip: frozenset[str] = frozenset({"by"}),
    choices_for: ChoiceSource | None = None,
    model: type[BaseModel] | None = None,
) -> tuple[Form, T | None]:
    """Read a posted form and validate its document: the form as typed, and the valid input.

    When anything is wrong the input is None and every problem (the form's own, such as
    31 February, and the model's) is on its question and in the error summary, so nothing is
    recorded until the whole form is valid.
    """
    posted = read_form(schema, raw, skip=skip)
    form = build_form(schema, raw=raw, skip=skip, choices_for=choices_for)
    try:
        valid = validate(posted.document)
    except ValidationError as error:
        attach_problems(form, posted, error, model)
        return form, None
    if posted.problems:
        attach_problems(form, posted, model=model)
        return form, None
    return form, valid


def format_date(value: Any) -> dict[str, str]:
    """Split an ISO date (or a date) into day, month and year for a date input."""
    if isinstance(value, date):
        return {"day": str(value.day), "month": str(value.month), "year": str(value.year)}
    if isinstance(value, str):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            return {}
        return format_date(parsed)
    return {}


def as_posted(form: Form) -> list[tuple[str, str]]:
    """The (key, value) pairs a browser posts for this form as filled in.

    The inverse of `read_form`, so a document can be put through the console exactly as a
    person would type it (tests, and the round trip a property test checks).
    """
    pairs: list[tuple[str, str]] = []
    for item in form.fields:
        pairs.extend(_posted(item))
    return pairs


def _posted(item: FormField) -> list[tuple[str, str]]:
    if item.widget == "fieldset":
        return [pair for child in item.children for pair in _posted(child)]
    if item.widget == "list":
        pairs = [(f"{item.name}.count", str(len(item.items)))]
        for entries in item.items:
            pairs += [pair for child in entries for pair in _posted(child)]
        return pairs
    if item.widget == "date":
        value = item.value or {}
        return [(f"{item.name}.{part}", str(value.get(part, ""))) for part in DATE_PARTS]
    if item.widget == "checkboxes":
        return [(item.name, str(value)) for value in item.value or ()]
    return [(item.name, str(item.value or ""))]
