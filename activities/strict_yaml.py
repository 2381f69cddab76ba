"""Read a YAML file a person edits (the CSP directory) strictly, and safely when it is hostile.

PyYAML's safe loader still accepts what a hand-edited file should not hold: a key written twice
(the last silently wins, so an edit seems to have no effect), an alias bomb ("billion laughs": a
few hundred bytes whose aliases expand to a billion entries, which validation and its messages
would then walk), a self-referring alias, a number too long for Python to convert, or nesting
deep enough to exhaust the interpreter's stack. Each is refused here as a `yaml.MarkedYAMLError`
naming the line, so the loader reports it like any other YAML mistake.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from schemas.validation import shown

MAX_NODES = 100_000
"""Values a document may hold once its aliases are expanded; a large directory holds a few
thousand. An alias bomb is refused by this count, before anything walks the expanded tree."""

MAX_NUMBER_DIGITS = 30
"""Characters a number may have; every number in a directory is small (versions, days, counts)."""

_MERGE = "tag:yaml.org,2002:merge"


MAX_DEPTH = 50
"""How deeply lists and mappings may nest; the directory's deepest value is six levels down.
Refusing while composing stops the parse early, before PyYAML's scanner (slow on deep flow
collections) or the interpreter's stack give out."""


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting, duplicate keys and over-long numbers, naming the
    line."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(
                    None,
                    None,
                    f"lists and mappings nest more than {MAX_DEPTH} levels deep here; a directory "
                    "needs six: correct the indentation or brackets",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[tuple[str, str], Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                    continue
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise ConstructorError(
                        None,
                        None,
                        f"the key {shown(key_node.value)} appears twice in one mapping (first on "
                        f"line {seen[key].line + 1}); only one can count: remove or rename one",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)  # type: ignore[arg-type]

    def construct_yaml_int(self, node: Node) -> int:
        value = str(self.construct_scalar(node))  # type: ignore[arg-type]
        if len(value) > MAX_NUMBER_DIGITS:
            raise ConstructorError(
                None,
                None,
                f"the number {shown(value)} is {len(value)} characters long (at most "
                f"{MAX_NUMBER_DIGITS}): correct it",
                node.start_mark,
            )
        return int(super().construct_yaml_int(node))  # type: ignore[arg-type]

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # A tag forcing a type the text is not (`!!float abc`, `!!bool maybe`) fails inside
        # PyYAML with a bare ValueError or KeyError; say where instead.
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError, KeyError, AttributeError) as error:
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise ConstructorError(
                None,
                None,
                f"{shown(node.value)} cannot be read as a {kind} ({error}): correct it",
                node.start_mark,
            ) from None

    def construct_yaml_timestamp(self, node: Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except (ValueError, OverflowError, AttributeError):
            raise ConstructorError(
                None,
                None,
                f"{shown(node.value)} is not a real date (YYYY-MM-DD): correct it",
                node.start_mark,
            ) from None


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_timestamp)


def strict_load(text: str) -> Any:
    """Parse one YAML document strictly; raise yaml.YAMLError (with a mark) when refused.

    The document is composed first (aliases are still shared nodes there, so this is cheap), its
    expanded size is checked, and only then is it built into Python values.
    """
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expanded_size(root: Node) -> None:
    """Count the values the document holds with every alias expanded, without expanding them.

    A node reached through several aliases is counted once per path, from a memo, so the count
    costs one visit per distinct node; a node that contains itself is refused.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        ident = id(node)
        if children_done:
            on_path.discard(ident)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > MAX_NODES:
                raise ComposerError(
                    None,
                    None,
                    f"this value expands to more than {MAX_NODES:,} entries through its aliases "
                    "(*name); a directory never needs so many: write the entries out, or use "
                    "fewer aliases",
                    node.start_mark,
                )
            sizes[ident] = total
            continue
        if ident in sizes:
            continue
        if ident in on_path:
            raise ComposerError(
                None,
                None,
                "this value contains itself through an alias (*name): an entry cannot include "
                "itself; remove the alias",
                node.start_mark,
            )
        on_path.add(ident)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []
