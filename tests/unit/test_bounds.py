"""Issue 12, class 3 (fast layer): the YAML loader bounds aliases, messages are bounded."""

from __future__ import annotations

import time

import pytest

from superruns.base.errors import MAX_MESSAGE_CHARS, SuperrunsError, bounded, brief
from superruns.base.yamlio import MAX_ALIAS_NODES, YamlError, yaml_load


def nest(levels: int, width: int = 10, tag: str = "") -> str:
    lines = [f"x0: &a0 [{', '.join(['1'] * width)}]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return tag + "\n".join(lines) + "\n"


@pytest.mark.parametrize("text, problem", [
    (nest(10), "aliases repeat more than"),
    (nest(10, tag="t: !!str x\n"), "aliases repeat more than"),   # the full loader's path
    (nest(6, width=10), "aliases repeat more than"),              # 10**6 nodes
    ("a: &a [1, *a]\n", "inside its own anchor"),
    ("t: !!str x\na: &a [1, *a]\n", "inside its own anchor"),
    ("a: &a {b: *a}\n", "inside its own anchor"),
])
def test_costly_aliases_are_refused_at_once(tmp_path, text, problem):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    started = time.perf_counter()
    with pytest.raises(YamlError) as info:
        yaml_load(path)
    assert time.perf_counter() - started < 1
    assert problem in str(info.value) and str(path) in str(info.value) and "line" in str(info.value)


@pytest.mark.parametrize("text, value", [
    ("a: &a {x: 1}\nb: *a\nc: [*a, *a]\n", {"a": {"x": 1}, "b": {"x": 1}, "c": [{"x": 1}, {"x": 1}]}),
    ("a: &a {x: 1}\nb: {<<: *a, y: 2}\n", {"a": {"x": 1}, "b": {"x": 1, "y": 2}}),
    (nest(4), None),  # 10**4 nodes repeated: below the cap
    ("a: [000001, 0, 12, 0x10, 1_000, -3]\n", {"a": [1, 0, 12, 16, 1000, -3]}),  # YAML 1.1 ints
])
def test_ordinary_anchors_and_numbers_load(tmp_path, text, value):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    loaded = yaml_load(path)
    if value is not None:
        assert loaded == value
    assert MAX_ALIAS_NODES >= 10**4


@pytest.mark.parametrize("length", [10, MAX_MESSAGE_CHARS, MAX_MESSAGE_CHARS + 1, 10**7])
def test_messages_are_bounded(length):
    message = "head " + "x" * length + " fix: do this"
    shown = str(SuperrunsError(message))
    assert len(shown) <= MAX_MESSAGE_CHARS + 60
    assert shown.startswith("head ") and shown.endswith("fix: do this")
    assert (shown == message) == (len(message) <= MAX_MESSAGE_CHARS)
    assert bounded(message) == shown


def test_brief_summarises_long_values():
    assert len(brief(list(range(10**6)))) < 100
    assert len(brief({"k" * 10**6: [[1] * 1000] * 1000})) < 300


def test_a_fifo_in_place_of_a_yaml_or_events_file_is_refused_at_once(tmp_path):
    """Reading a FIFO would wait forever for a writer; both readers refuse it by its kind."""
    import os

    from superruns.base.files import NotARegularFile
    from superruns.base.yamlio import YamlError, yaml_load
    from superruns.definitions.events import read_events

    fifo = tmp_path / "runs.yaml"
    os.mkfifo(fifo)
    with pytest.raises(YamlError, match="FIFO"):
        yaml_load(fifo)
    events = tmp_path / "events.csv"
    os.mkfifo(events)
    with pytest.raises(NotARegularFile, match="events file"):
        read_events(events)
