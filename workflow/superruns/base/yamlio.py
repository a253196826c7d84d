"""The one YAML loader of the package: safe, fast, refusing duplicate keys, bounding aliases.

Every YAML file the package reads (config, run registry, superrun definitions, locks) goes
through :func:`yaml_load`, so each gets the same guarantees and the same error messages.

Aliases are bounded (the "billion laughs" defence of most YAML libraries): the nodes that
aliases repeat may add at most :data:`MAX_ALIAS_NODES` to a document, and an alias inside
its own anchor (a recursive structure) is refused. Loading stays linear in the file's size,
and nothing downstream (schema checks, messages) walks an exponential tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from .errors import SuperrunsError
from .files import FileAccessError, NotARegularFile, read_regular

__all__ = ["MAX_ALIAS_NODES", "YamlError", "yaml_load"]

#: The most nodes aliases may add to one document (each alias counts the nodes it repeats).
MAX_ALIAS_NODES = 100_000


class YamlError(SuperrunsError, ValueError):
    """A YAML file that cannot be read; the message names the file, the line and the fix."""


_YamlBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_IMMUTABLE = (str, int, float, bool, type(None))


class _Loader(_YamlBase):  # type: ignore[misc, valid-type]
    """Safe loader (libyaml when available) that refuses a key repeated in one mapping."""

    def construct_mapping(self, node, deep=False):  # noqa: D102
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue
                if first is not key_node:
                    raise _duplicate_key(key, key_node.start_mark)
        return super().construct_mapping(node, deep)


def _duplicate_key(key, mark):
    return yaml.constructor.ConstructorError(
        None, None, f"key {key!r} appears twice in one mapping; YAML would silently keep only "
        f"the last: remove or rename one", mark)


def _recursive_alias(anchor, mark):
    return yaml.composer.ComposerError(
        None, None, f"an alias{' *' + anchor if anchor else ''} lies inside its own anchor, which makes an "
        f"endless structure: write the values out", mark)


def _too_many_aliased(mark):
    return yaml.composer.ComposerError(
        None, None, f"aliases repeat more than {MAX_ALIAS_NODES:,} nodes in this document "
        f"(nested anchors grow exponentially): write the values out or use fewer aliases", mark)


def _check_aliases(root) -> None:
    """The node graph of the full loader: aliases (shared nodes) within the same bounds."""
    sizes: dict[int, int] = {}
    total = 0
    stack: list = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if key in sizes:
            if sizes[key] is None:  # reached again inside itself
                raise _recursive_alias("", node.start_mark)
            total += sizes[key]  # a node reached again: an alias, counted expanded
            if total > MAX_ALIAS_NODES:
                raise _too_many_aliased(node.start_mark)
            continue
        sizes[key] = None  # type: ignore[assignment]
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(children))


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class _Fallback(Exception):
    """Something the fast loader does not handle (tags, merge keys, ...): use the full one."""


class _EventBuilder:
    """Builds a document straight from libyaml's events, skipping the node graph.

    Composing nodes costs ~60 % of a plain ``yaml.load`` with CSafeLoader (~1 s for a
    10,000-run registry here); events cost ~0.1 s. Scalars are resolved and constructed by
    the same SafeLoader resolver and constructors, so the result is identical; explicit
    tags, merge keys, unhashable keys and multi-document streams raise ``_Fallback``.
    """

    def __init__(self, loader):
        self.loader = loader
        self.next_event = loader.get_event
        self.anchors: dict = {}
        self.scalars: dict = {}
        self.sizes: dict = {}   # anchor -> nodes under it (None while it is being built)
        self.nodes = 0          # nodes built so far, aliases counted expanded
        self.aliased = 0        # of which repeated by aliases

    def document(self) -> Any:
        self.next_event()  # stream start
        if type(self.next_event()) is StreamEndEvent:
            return None
        result = self.build(self.next_event())  # the event after the document start
        self.next_event()  # document end
        if type(self.next_event()) is not StreamEndEvent:
            raise _Fallback  # several documents: let the full loader complain
        return result

    def build(self, event) -> Any:
        if event.__dict__.get("tag") not in (None, "!"):
            raise _Fallback
        kind = type(event)
        self.nodes += 1
        before = self.nodes
        if kind is ScalarEvent:
            value = self._anchored(event, self.scalar(event))
        elif kind is MappingStartEvent:
            value = self.mapping(self._anchored(event, {}))
        elif kind is SequenceStartEvent:
            value = self.sequence(self._anchored(event, []))
        elif kind is AliasEvent and event.anchor in self.anchors:
            return self.alias(event)
        else:
            raise _Fallback
        if event.anchor:
            self.sizes[event.anchor] = self.nodes - before + 1
        return value

    def _anchored(self, event, value):
        if event.anchor:
            self.anchors[event.anchor] = value
            self.sizes[event.anchor] = None
        return value

    def alias(self, event) -> Any:
        size = self.sizes[event.anchor]
        if size is None:
            raise _recursive_alias(event.anchor, event.start_mark)
        self.nodes += size - 1
        self.aliased += size
        if self.aliased > MAX_ALIAS_NODES:
            raise _too_many_aliased(event.start_mark)
        return self.anchors[event.anchor]

    def scalar(self, event) -> Any:
        text = event.value
        if event.implicit[0] and text.isdigit() and text.isascii() and (text[0] != "0" or text == "0"):
            return int(text)  # a plain decimal int (what the resolver says), the common case
        key = (event.value, event.implicit)
        value = self.scalars.get(key, self.scalars)
        if value is not self.scalars:
            return value
        tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STR_TAG:
            value = event.value
        else:
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            try:
                value = self.loader.yaml_constructors[tag](self.loader, node)
            except (ValueError, TypeError, OverflowError) as exc:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{event.value!r} is not valid: {exc}", event.start_mark) from None
        if isinstance(value, _IMMUTABLE):
            self.scalars[key] = value
        return value

    def mapping(self, out: dict) -> dict:
        while True:
            key_event = self.next_event()
            if type(key_event) is MappingEndEvent:
                return out
            if type(key_event) is ScalarEvent and key_event.value == "<<" and key_event.implicit[0]:
                raise _Fallback
            key = self.build(key_event)
            try:
                if key in out:
                    raise _duplicate_key(key, key_event.start_mark)
            except TypeError:
                raise _Fallback from None
            out[key] = self.build(self.next_event())

    def sequence(self, out: list) -> list:
        next_event = self.next_event
        while True:
            item = next_event()
            kind = type(item)
            if kind is SequenceEndEvent:
                return out
            if kind is ScalarEvent and item.anchor is None and item.tag is None and item.implicit[0]:
                text = item.value   # a plain decimal int (time ranges: most of a big file)
                if text.isdigit() and text.isascii() and (text[0] != "0" or text == "0"):
                    self.nodes += 1
                    out.append(int(text))
                    continue
            out.append(self.build(item))


def _fast_load(data: bytes) -> Any:
    """The document of ``data`` through :class:`_EventBuilder`."""
    loader = _YamlBase(data)
    try:
        return _EventBuilder(loader).document()
    finally:
        loader.dispose()


def _full_load(data: bytes) -> Any:
    """The document of ``data`` through the full safe loader, aliases checked first."""
    loader = _Loader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def yaml_load(path: Path, error_cls: type[Exception] = YamlError) -> Any:
    """Parse a YAML file safely (libyaml when available), refusing duplicate keys.

    Errors become ``error_cls`` naming the file and the line.
    """
    try:
        data = read_regular(path, "a YAML file")
    except FileNotFoundError:
        raise error_cls(f"{path}: file not found; create it or fix the path") from None
    except (NotARegularFile, FileAccessError) as exc:  # a FIFO would hang a plain read
        raise error_cls(str(exc)) from None
    try:
        try:
            return _fast_load(data)
        except _Fallback:
            return _full_load(data)
    except yaml.YAMLError as exc:
        raise error_cls(f"{path}: not valid YAML: {exc}; fix the syntax at the line shown") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp with month 13
        raise error_cls(f"{path}: a value is not valid: {exc}; fix it") from None


