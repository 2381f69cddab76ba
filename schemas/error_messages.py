"""The sentence a person reads for one validation problem, in the GOV.UK Design System's words.

GOV.UK Design System, "Error message": say what went wrong and how to fix it, in the field's own
words ("Enter the applicant's name", "Date received must be a real date", "Select whether the
applicant is the victim"), never pydantic's ("Field required", "Tuple should have at least 1
item"). The console shows the sentence beside the field and in the error summary; the CLI shows
the same sentence after the field's path (schemas/validation.py), so a file and a form are
corrected in the same words.

Nothing here names a process. The words come from the model: a field's `title` (its label, in a
person's words, else its name), the model that holds it ("the applicant's name"), the list item
it is in ("for complaint 2", numbered from 1), its type (text is entered, a choice selected, a
list added to) and the pydantic error type. A field whose sentence cannot be derived says it in
its schema: `json_schema_extra={"messages": {"missing": "Select whether ..."}}` (keys are pydantic
error types; `missing` also answers a yes/no or choice given a value it cannot read), `"what"`
for the noun phrase after "Enter", `"item"` for what one entry of a list is called.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

EXAMPLE_DATE = "2025-03-27"
"""The date the CLI's sentences give as an example of the form a date is written in."""


# --------------------------------------------------------------------------------------------
# Finding the model and the field a problem is about
# --------------------------------------------------------------------------------------------


def _subclasses(base: type[BaseModel]) -> list[type[BaseModel]]:
    found, stack = [], list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def model_of(error: ValidationError) -> type[BaseModel] | None:
    """The model a ValidationError came from, by its title (the model's class name).

    A ValidationError carries only the name; every cspflow schema is a BaseModel subclass, so the
    name finds it. Two models of one name (a test's and a schema's) are told apart by whether
    every location in the error resolves in them; None when nothing matches.
    """
    named = [cls for cls in _subclasses(BaseModel) if cls.__name__ == error.title]
    if len(named) <= 1:
        return named[0] if named else None
    locs = [tuple(problem["loc"]) for problem in error.errors(include_url=False)]
    for cls in named:
        if all(_place(cls, loc).resolved for loc in locs):
            return cls
    return named[0]


def _unwrap(annotation: Any) -> Any:
    """The type behind Annotated[...] and 'X | None'."""
    for _ in range(10):
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation
    return annotation


def _item_type(annotation: Any) -> Any | None:
    annotation = _unwrap(annotation)
    if get_origin(annotation) in (tuple, list, set, frozenset):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        return args[0] if args else Any
    return None


def _model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


Kind = Literal["text", "number", "date", "choice", "yes-no", "group", "list", "other"]


def _kind(annotation: Any) -> Kind:
    annotation = _unwrap(annotation)
    if annotation is bool:
        return "yes-no"
    if get_origin(annotation) is Literal or (
        isinstance(annotation, type) and issubclass(annotation, Enum)
    ):
        return "choice"
    if annotation is date:
        return "date"
    if _model(annotation) is not None:
        return "group"
    if _item_type(annotation) is not None:
        return "list"
    if annotation in (int, float):
        return "number"
    if annotation is str:
        return "text"
    return "other"


def _extra(info: FieldInfo | None) -> Mapping[str, Any]:
    extra = info.json_schema_extra if info is not None else None
    return extra if isinstance(extra, Mapping) else {}


def label_of(name: str, info: FieldInfo | None = None) -> str:
    """A field's label: its title, else its name in words ('received_on' -> 'Received on')."""
    if info is not None and info.title:
        return info.title
    words = re.sub(r"[_-]+", " ", name).strip()
    return words[:1].upper() + words[1:]


def _lower_first(text: str) -> str:
    """'Date received' -> 'date received'; an initialism ('ICB') keeps its capitals."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def item_name(name: str, info: FieldInfo | None = None) -> str:
    """What one entry of a list is called: its `item`, else its label made singular."""
    given = _extra(info).get("item")
    if isinstance(given, str):
        return given
    label = _lower_first(label_of(name, info))
    return label[:-1] if label.endswith("s") and not label.endswith("ss") else label


@dataclass
class Place:
    """Where a problem is: the field, the model that holds it and the list entries above it."""

    name: str = ""
    info: FieldInfo | None = None
    annotation: Any = None
    owner: str | None = None
    """The label of the nearest enclosing field that is not a list entry ('Applicant')."""
    entries: list[str] = field(default_factory=list)
    """The list entries above the field, numbered from 1: ['complaint 2']."""
    model: type[BaseModel] | None = None
    """The model the field belongs to (the whole input for a problem with the document)."""
    resolved: bool = True

    @property
    def label(self) -> str:
        return label_of(self.name, self.info) if self.name else "The document"

    @property
    def phrase(self) -> str:
        return _lower_first(self.label)

    @property
    def suffix(self) -> str:
        return f" for {self.entries[-1]}" if self.entries else ""

    @property
    def what(self) -> str:
        """The field as an object: 'the applicant's name', 'the name for victim 1'."""
        given = _extra(self.info).get("what")
        if isinstance(given, str):
            return given + self.suffix
        if self.owner:
            return f"the {_lower_first(self.owner)}'s {self.phrase}{self.suffix}"
        return f"the {self.phrase}{self.suffix}"

    @property
    def subject(self) -> str:
        """The field as the subject of a sentence: 'Date received', 'The applicant's email'."""
        if self.owner:
            return _upper_first(f"the {_lower_first(self.owner)}'s {self.phrase}{self.suffix}")
        return self.label + self.suffix


def _place(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> Place:
    """Follow a pydantic location through the model's fields."""
    place = Place(model=model)
    current: Any = model
    owner: str | None = None
    for part in loc:
        if isinstance(part, int):
            item = _item_type(current)
            if item is None:
                place.resolved = False
                break
            place.entries.append(f"{item_name(place.name, place.info)} {part + 1}")
            owner = None  # inside a list entry, the entry says whose field it is
            current = item
            continue
        holder = _model(current)
        if holder is None or part not in holder.model_fields:
            place.name, place.info, place.annotation = part, None, None
            place.resolved = False
            break
        if place.name and current is place.annotation:
            owner = place.label  # a nested model's field: 'the applicant's name'
        place.model = holder
        place.name, place.info = part, holder.model_fields[part]
        place.annotation = place.info.annotation
        current = place.annotation
    place.owner = owner
    return place


# --------------------------------------------------------------------------------------------
# The sentences
# --------------------------------------------------------------------------------------------

_REQUIRED_VERB = {"choice": "Select", "yes-no": "Select"}
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_INDEXED = re.compile(r"\b([a-z][a-z0-9_]*)\[(\d+)\](?:\.([a-z][a-z0-9_]*))?")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def _plural(word: str) -> str:
    return word if word.endswith("s") else f"{word}s"


def _list_sentence(place: Place, verb_count: str) -> str:
    item = _item_type(place.annotation)
    noun = item_name(place.name, place.info)
    kind = _kind(item) if item is not None else "other"
    verb = {"choice": "Select", "group": "Add"}.get(kind, "Enter")
    return f"{verb} {verb_count.format(one=noun, many=_plural(noun))}{place.suffix}"


def _required(place: Place) -> str:
    kind = _kind(place.annotation)
    if kind == "list":
        return _list_sentence(place, "at least one {one}")
    if kind == "yes-no":
        return f"Select yes or no for {place.what}"
    if kind == "group":
        return f"Enter the {place.phrase}'s details{place.suffix}"
    return f"{_REQUIRED_VERB.get(kind, 'Enter')} {place.what}"


def govuk_dates(text: str) -> str:
    """Write every ISO date in a sentence as GOV.UK does: '2025-03-27' -> '27 March 2025'."""

    def words(found: re.Match[str]) -> str:
        try:
            day = date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            return found[0]
        return f"{day.day} {day:%B %Y}"

    return _ISO_DATE.sub(words, text)


def plain_words(text: str, model: type[BaseModel] | None) -> str:
    """Put a hand-written message in a person's words: field names become their labels
    ('complaints[0].reported_on' -> 'the date reported for complaint 1') and dates GOV.UK dates.
    """

    def indexed(found: re.Match[str]) -> str:
        place = _place(model, (found[1], int(found[2]), *([found[3]] if found[3] else [])))
        if not place.resolved:
            return found[0]
        if found[3]:
            return place.what
        return place.entries[-1]

    def snake(found: re.Match[str]) -> str:
        place = _place(model, (found[0],))
        return place.phrase if place.resolved else found[0].replace("_", " ")

    text = _INDEXED.sub(indexed, text)
    text = _SNAKE.sub(snake, text)
    return govuk_dates(text)


def _value_error(place: Place, message: str, value: Any, with_values: bool) -> str:
    if "is not an email address" in message:
        return f"Enter {place.what} in the correct format, like name@example.org"
    if "is outside the dates cspflow works with" in message:
        from schemas.shared import EARLIEST_DATE, LATEST_DATE

        first, last = govuk_dates(EARLIEST_DATE.isoformat()), govuk_dates(LATEST_DATE.isoformat())
        sentence = f"{place.subject} must be between {first} and {last}"
        return sentence + (f": check the year of {value}" if with_values else "")
    return _upper_first(plain_words(message, place.model))


def describe_problem(
    model: type[BaseModel] | None, problem: Mapping[str, Any], *, with_values: bool = False
) -> str:
    """One problem as a sentence a person reads, from its pydantic type and the field's words.

    `with_values` adds what a file's author needs and a form shows anyway: the value that does
    not exist ('2025-02-31 does not exist'), the choices a value must be one of.
    """
    loc = tuple(problem.get("loc", ()))
    kind, ctx = str(problem.get("type", "")), problem.get("ctx") or {}
    value = problem.get("input")
    place = _place(model, loc)
    overrides = _extra(place.info).get("messages") or {}
    if kind in overrides:
        return str(overrides[kind])
    field_kind = _kind(place.annotation)
    min_length = ctx.get("min_length")
    if kind == "missing" or (kind in ("string_too_short", "too_short") and min_length == 1):
        return str(overrides.get("missing") or _required(place))
    if kind == "string_too_short":
        return f"{place.subject} must be {min_length} characters or more"
    if kind == "string_too_long":
        return f"{place.subject} must be {ctx.get('max_length')} characters or less"
    if kind == "too_short" and field_kind == "list":
        return _list_sentence(place, f"at least {min_length} {{many}}")
    if kind == "too_long" and field_kind == "list":
        return _list_sentence(place, f"no more than {ctx.get('max_length')} {{many}}")
    if kind.startswith("date_") or (kind == "datetime_from_date_parsing"):
        reason = str(ctx.get("error", ""))
        if "outside expected range" in reason or kind == "date_from_datetime_inexact":
            sentence = f"{place.subject} must be a real date"
            return sentence + (f": {value} does not exist" if with_values else "")
        if with_values:
            return (
                f"{place.subject} must be a real date, written year-month-day, for example "
                f"{EXAMPLE_DATE}"
            )
        return f"{place.subject} must be a real date"
    if kind in ("bool_parsing", "bool_type"):
        sentence = str(overrides.get("missing") or _required(place))
        return sentence + (" (true or false)" if with_values else "")
    if kind in ("enum", "literal_error"):
        sentence = str(overrides.get("missing") or f"Select {place.what}")
        return sentence + (f": one of {ctx.get('expected')}" if with_values else "")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{place.subject} must be a whole number"
    limits: dict[str, tuple[str, str, int]] = {
        "greater_than_equal": ("ge", "or more", 0),
        "less_than_equal": ("le", "or less", 0),
        "greater_than": ("gt", "or more", 1),
        "less_than": ("lt", "or less", -1),
    }
    if kind in limits:
        key, words, step = limits[kind]
        bound = ctx.get(key)
        shown_bound = bound + step if isinstance(bound, int) else bound
        return f"{place.subject} must be {shown_bound} {words}"
    if kind == "string_type":
        return f"{place.subject} must be text"
    if kind == "extra_forbidden":
        if with_values:
            return "There is no such field here: remove it, or check its spelling"
        return "Remove this answer: the form has no such question"
    if kind == "value_error":
        message = str(problem.get("msg", "")).removeprefix("Value error, ")
        return _value_error(place, message, value, with_values)
    return str(problem.get("msg", "")).removeprefix("Value error, ")


def describe_at(
    model: type[BaseModel] | None, loc: tuple[int | str, ...], kind: str, **ctx: Any
) -> str:
    """A sentence for a problem only a form can have (a date typed without its month)."""
    names = [part for part in loc if isinstance(part, str)]
    place = _place(model, loc) if model is not None else Place(name=names[-1] if names else "")
    if kind == "date_incomplete":
        missing = list(ctx.get("missing", ()))
        return f"{place.subject} must include a {' and a '.join(missing)}"
    if kind == "date_year":
        return f"{place.subject} must include a year with 4 numbers"
    if kind == "date_real":
        return f"{place.subject} must be a real date"
    return describe_problem(model, {"loc": loc, "type": kind, "ctx": ctx})
