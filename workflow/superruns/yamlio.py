"""The one YAML loader of the package: safe, fast, and refusing duplicate keys.

Every YAML file the package reads (config, run registry, superrun definitions, locks) goes
through :func:`yaml_load`, so each gets the same guarantees and the same error messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import SuperrunsError

__all__ = ["YamlError", "yaml_load"]


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

    def document(self) -> Any:
        from yaml.events import StreamEndEvent

        self.next_event()  # stream start
        if type(self.next_event()) is StreamEndEvent:
            return None
        result = self.build(self.next_event())  # the event after the document start
        self.next_event()  # document end
        if type(self.next_event()) is not StreamEndEvent:
            raise _Fallback  # several documents: let the full loader complain
        return result

    def build(self, event) -> Any:
        from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent

        if event.__dict__.get("tag") not in (None, "!"):
            raise _Fallback
        kind = type(event)
        if kind is ScalarEvent:
            return self._anchored(event, self.scalar(event))
        if kind is MappingStartEvent:
            return self.mapping(self._anchored(event, {}))
        if kind is SequenceStartEvent:
            return self.sequence(self._anchored(event, []))
        if kind is AliasEvent and event.anchor in self.anchors:
            return self.anchors[event.anchor]
        raise _Fallback

    def _anchored(self, event, value):
        if event.anchor:
            self.anchors[event.anchor] = value
        return value

    def scalar(self, event) -> Any:
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
        from yaml.events import MappingEndEvent, ScalarEvent

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
        from yaml.events import SequenceEndEvent

        while True:
            item = self.next_event()
            if type(item) is SequenceEndEvent:
                return out
            out.append(self.build(item))


def _fast_load(data: bytes) -> Any:
    """The document of ``data`` through :class:`_EventBuilder`."""
    loader = _YamlBase(data)
    try:
        return _EventBuilder(loader).document()
    finally:
        loader.dispose()


def yaml_load(path: Path, error_cls: type[Exception] = YamlError) -> Any:
    """Parse a YAML file safely (libyaml when available), refusing duplicate keys.

    Errors become ``error_cls`` naming the file and the line.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise error_cls(f"{path}: file not found; create it or fix the path") from None
    except IsADirectoryError:
        raise error_cls(f"{path}: is a directory, not a YAML file; fix the path") from None
    try:
        try:
            return _fast_load(data)
        except _Fallback:
            return yaml.load(data, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise error_cls(f"{path}: not valid YAML: {exc}; fix the syntax at the line shown") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp with month 13
        raise error_cls(f"{path}: a value is not valid: {exc}; fix it") from None


