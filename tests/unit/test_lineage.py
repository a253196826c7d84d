"""Tests of superruns.model.lineage: strax's deterministic_hash, option resolution, lineages."""

from __future__ import annotations

import base64
import hashlib
import json
import types
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from superruns.model.lineage import (
    ABSENT,
    PER_RUN_MARKER,
    LineageDifference,
    compare_lineages,
    deterministic_hash,
    format_differences,
    hashablize,
    lineage,
    lineage_hash,
    mask_per_run_options,
    per_run_options,
    per_run_spec,
    resolve_option,
    resolve_options,
    run_number,
    subrun_dependent_value,
    superrun_lineage,
    to_jsonable,
    unknown_options,
)
from superruns.model.options import typed_overrides
from superruns.model.plugins import Option, Plugin, Registry


def sha1_b32(text: str, length: int = 10) -> str:
    """The hash of a JSON text, computed independently of the module under test."""
    return base64.b32encode(hashlib.sha1(text.encode("ascii")).digest())[:length].decode().lower()


# ---------------------------------------------------------------------------------------------
# A registry shaped like strax's test plugins (strax/testutils.py: Records, Peaks)
# ---------------------------------------------------------------------------------------------

class Records(Plugin):
    provides = "records"
    data_kind = "records"
    version = "0.0.0"
    options = (
        Option("crash", default=False),
        Option("dummy_tracked_option", default=42),
        Option("secret_time_offset", default=0, track=False),
        Option("n_chunks", default=10, track=False),
        Option("recs_per_chunk", default=10, track=False),
    )


class Peaks(Plugin):
    provides = "peaks"
    depends_on = ("records",)
    data_kind = "peaks"
    version = "0.0.0"
    options = (
        Option("base_area", default=0),
        Option("give_wrong_dtype", default=False),
        Option("bonus_area", default_per_run=[(0, 0), (1, 1)]),
    )


class PeakBasics(Plugin):
    provides = "peak_basics"
    depends_on = ("peaks",)
    data_kind = "peaks"
    version = "1.2.0"
    options = (
        Option("gain", default=1.0),
        Option("threshold", default_per_run=[[0, 10], [100, 12], [200, 15]]),
        Option("n_workers", default=1, track=False),
    )


def make_registry(*plugin_classes) -> Registry:
    registry = Registry()
    for plugin_class in plugin_classes or (Records, Peaks, PeakBasics):
        registry.register(plugin_class())
    return registry


STRAX_RECORDS_LINEAGE = {"records": ["Records", "0.0.0", {"crash": False, "dummy_tracked_option": 42}]}


# ---------------------------------------------------------------------------------------------
# deterministic_hash: strax-reference section 2.9 test vectors
# ---------------------------------------------------------------------------------------------

VECTORS = [
    (({"0": "all", "1": "all", "2": "all"}, False),
     '[[["0", "all"], ["1", "all"], ["2", "all"]], false]', "xasmpdqviq"),
    (({"0": "all", "1": "all", "2": "all"}, True),
     '[[["0", "all"], ["1", "all"], ["2", "all"]], true]', "m3bpl6gape"),
    (({"0": "all", "1": "all"}, False), '[[["0", "all"], ["1", "all"]], false]', "dgoccabkea"),
    (({"0": [0, 1], "1": [10, 11]}, False),
     '[[["0", [0, 1]], ["1", [10, 11]]], false]', "zpogxuggwg"),
    (({"0": "all", "1": [10, 11]}, False), '[[["0", "all"], ["1", [10, 11]]], false]', "ddqxc2qpr6"),
    (STRAX_RECORDS_LINEAGE,
     '[["records", ["Records", "0.0.0", [["crash", false], ["dummy_tracked_option", 42]]]]]',
     "j3nd2fjbiq"),
    ([(0, 0), (1, 1)], "[[0, 0], [1, 1]]", "tjb4ewtbrb"),
    ({"a": 1.0, "b": np.int64(3), "c": None, "d": "x"},
     '[["a", 1.0], ["b", 3], ["c", null], ["d", "x"]]', "r2azd4nuyr"),
    (("peaks",), '["peaks"]', "yrnhthkuom"),
]


@pytest.mark.parametrize("thing, json_text, expected", VECTORS)
def test_strax_vectors(thing, json_text, expected):
    assert deterministic_hash(thing) == expected
    # The table's JSON column hashes to the table's hash, and it is what the module dumps.
    assert sha1_b32(json_text) == expected
    assert json.dumps(hashablize(thing), default=lambda o: int(o)) == json_text


def test_strax_peaks_lineage_vector():
    peaks = {
        "peaks": ["Peaks", "0.0.0", {"base_area": 0, "bonus_area": 42, "give_wrong_dtype": False}],
        **STRAX_RECORDS_LINEAGE,
    }
    assert deterministic_hash(peaks) == "xia2iit6vb"
    # strax keeps the entries as tuples in memory: same hash.
    as_tuples = {dt: tuple(entry) for dt, entry in peaks.items()}
    assert deterministic_hash(as_tuples) == "xia2iit6vb"


def test_reversed_sub_run_spec_same_key():
    spec = {"2": "all", "1": "all", "0": "all"}
    assert deterministic_hash((spec, False)) == "xasmpdqviq"


def test_length_argument():
    full = deterministic_hash([(0, 0), (1, 1)], length=32)
    assert len(full) == 32 and full.startswith("tjb4ewtbrb")
    assert deterministic_hash([(0, 0), (1, 1)], length=4) == "tjb4"
    assert full == full.lower()


# ---------------------------------------------------------------------------------------------
# deterministic_hash: the details of hashablize and the numpy encoder
# ---------------------------------------------------------------------------------------------

def test_floats_ints_bools_none_differ():
    hashes = {deterministic_hash(v) for v in (1, 1.0, True, "1", None, [1])}
    assert len(hashes) == 6
    assert deterministic_hash(1.0) == sha1_b32("1.0")
    assert deterministic_hash(True) == sha1_b32("true")
    assert deterministic_hash(None) == sha1_b32("null")
    assert deterministic_hash(float("nan")) == sha1_b32("NaN")
    assert deterministic_hash(0.1) == sha1_b32("0.1")


def test_numpy_scalars_encode_as_python_numbers():
    assert deterministic_hash(np.int64(3)) == deterministic_hash(3)
    assert deterministic_hash(np.uint8(200)) == deterministic_hash(200)
    assert deterministic_hash(np.float64(2.5)) == deterministic_hash(2.5)
    # float32 goes through float(): its exact double value, not its short repr.
    assert deterministic_hash(np.float32(1.1)) == sha1_b32(repr(float(np.float32(1.1))))
    assert deterministic_hash(np.float32(1.1)) != deterministic_hash(1.1)
    assert deterministic_hash(np.str_("x")) == deterministic_hash("x")


def test_numpy_bool_is_rejected_like_strax():
    with pytest.raises(TypeError):
        deterministic_hash(np.bool_(True))
    with pytest.raises(TypeError):
        deterministic_hash({"flag": np.bool_(False)})


def test_numpy_arrays():
    assert deterministic_hash(np.array([1, 2, 3])) == sha1_b32("[1, 2, 3]")
    assert deterministic_hash(np.array([[1, 2], [3, 4]])) == sha1_b32("[[1, 2], [3, 4]]")
    assert deterministic_hash(np.array([0.5, 1.0])) == deterministic_hash([0.5, 1.0])
    # tolist() of a bool array gives Python bools, which encode.
    assert deterministic_hash(np.array([True, False])) == sha1_b32("[true, false]")
    with pytest.raises(TypeError):
        deterministic_hash(np.array(5))  # tuple(5): a 0-d array is not iterable


def test_tuples_lists_and_nesting():
    assert deterministic_hash((1, 2)) == deterministic_hash([1, 2]) == sha1_b32("[1, 2]")
    # A tuple holding a dict is unhashable, so it is recursed and the dict becomes sorted pairs.
    nested = ({"b": 1, "a": [2, {"d": 3, "c": 4}]},)
    assert hashablize(nested) == ((("a", (2, (("c", 4), ("d", 3)))), ("b", 1)),)
    assert deterministic_hash(nested) == sha1_b32('[[["a", [2, [["c", 4], ["d", 3]]]], ["b", 1]]]')
    # Dict keys are not hashablized: tuple keys are dumped as arrays.
    assert deterministic_hash({(1, 2): "x"}) == sha1_b32('[[[1, 2], "x"]]')


def test_mappings_become_dicts():
    plain = {"x": 1, "y": [1, 2]}
    assert deterministic_hash(types.MappingProxyType(plain)) == deterministic_hash(plain)
    assert deterministic_hash(OrderedDict(reversed(list(plain.items())))) == deterministic_hash(plain)


def test_sets_bytes_and_other_iterables():
    # A set is unhashable: a tuple in iteration order (small ints iterate in order).
    assert deterministic_hash({3, 1, 2}) == sha1_b32("[1, 2, 3]")
    # bytearray is unhashable and iterable: its ints.
    assert deterministic_hash(bytearray(b"ab")) == sha1_b32("[97, 98]")
    # bytes and frozensets are hashable, kept, and reach the encoder's fallback, which passes
    # each item through the fallback again: Python ints there are not encodable.
    assert deterministic_hash(b"") == sha1_b32("[]")
    with pytest.raises(TypeError):
        deterministic_hash(b"a")
    assert deterministic_hash(frozenset({np.int64(7)})) == sha1_b32("[7]")
    with pytest.raises(TypeError):
        deterministic_hash(frozenset({7}))
    with pytest.raises(TypeError):
        deterministic_hash(frozenset({"ab"}))  # strax: RecursionError
    with pytest.raises(TypeError):
        deterministic_hash(range(3))  # hashable, so kept; its Python ints reach the fallback
    with pytest.raises(TypeError):
        deterministic_hash(object())
    with pytest.raises(TypeError):
        deterministic_hash(1 + 2j)


def test_unsortable_keys_raise():
    with pytest.raises(TypeError):
        deterministic_hash({1: "a", "b": 2})


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False), st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=5), children, max_size=4),
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6), st.randoms())
@settings(max_examples=200, deadline=None)
def test_dict_key_order_does_not_matter(d, rnd):
    items = list(d.items())
    rnd.shuffle(items)
    assert deterministic_hash(dict(items)) == deterministic_hash(d)


@given(json_values)
@settings(max_examples=200, deadline=None)
def test_hash_is_sha1_of_sorted_key_json(value):
    """For plain JSON values the hashed text is json.dumps with dicts as sorted [key, value]s."""

    def pairs(v):
        if isinstance(v, dict):
            return [[k, pairs(v[k])] for k in sorted(v)]
        if isinstance(v, (list, tuple)):
            return [pairs(x) for x in v]
        return v

    assert deterministic_hash(value) == sha1_b32(json.dumps(pairs(value)))


# ---------------------------------------------------------------------------------------------
# Option resolution
# ---------------------------------------------------------------------------------------------

THRESHOLD = PeakBasics.options[1]


@pytest.mark.parametrize("run_id, expected", [
    ("000000", 10), ("0", 10), ("99", 10), ("000100", 12), ("100", 12), ("101", 12),
    ("199", 12), ("200", 15), ("999999", 15), (150, 12), (np.int64(200), 15),
])
def test_per_run_default_boundaries(run_id, expected):
    assert resolve_option(THRESHOLD, run_id, {}) == expected


def test_per_run_before_first_entry():
    option = Option("gain", default_per_run=[[10, 1.0], [20, 1.1]])
    assert resolve_option(option, "10", None) == 1.0
    assert resolve_option(option, "19", None) == 1.0
    assert resolve_option(option, "20", None) == 1.1
    with pytest.raises(ValueError, match=r"'gain'.*'000009'.*starts at run 10"):
        resolve_option(option, "000009", None)


@pytest.mark.parametrize("run_id", ["abc", "12a", "_12", "1_2", " 12", "+12", "-1", "", "١٢",
                                    "12\n", None, 1.0, True, -3])
def test_per_run_needs_numeric_run_ids(run_id):
    with pytest.raises(ValueError, match="threshold") as info:
        resolve_option(THRESHOLD, run_id, {})
    message = str(info.value)
    if run_id is not None:
        assert repr(run_id) in message and "numeric run ids" in message


def test_run_number():
    assert run_number("000123") == 123
    assert run_number(7) == 7
    with pytest.raises(ValueError, match="'r1'"):
        run_number("r1")


def test_non_numeric_run_id_fine_without_per_run_options():
    assert resolve_option(Option("gain", default=1.0), "calibration_a", {}) == 1.0
    assert resolve_options(make_registry(), "records", "not-a-number", {})["crash"] is False


def test_overrides():
    gain = Option("gain", default=1.0)
    assert resolve_option(gain, "1", {"gain": 2.0}) == 2.0
    assert resolve_option(gain, "1", {"other": 2.0}) == 1.0
    # An override turns a per-run option into a fixed one ...
    assert resolve_option(THRESHOLD, "150", {"threshold": 3}) == 3
    assert per_run_spec(THRESHOLD, {"threshold": 3}) is None
    # ... and a per-run override makes a fixed option per-run.
    spec = {"default_per_run": [[0, 1.0], ["000050", 1.5]]}
    assert resolve_option(gain, "49", {"gain": spec}) == 1.0
    assert resolve_option(gain, "50", {"gain": spec}) == 1.5
    assert per_run_spec(gain, {"gain": spec}) == [[0, 1.0], ["000050", 1.5]]
    # A dict value without the key is an ordinary value.
    assert resolve_option(gain, "1", {"gain": {"a": 1}}) == {"a": 1}


def test_resolved_values_are_copies():
    option = Option("channels", default=[1, 2, 3])
    value = resolve_option(option, None, {})
    value.append(4)
    assert option.default == [1, 2, 3]


@pytest.mark.parametrize("spec, match", [
    ([], "empty"),
    ([[10, 1], [5, 2]], "sorted"),
    ([[5, 1], [5, 2]], "sorted"),
    ([[0, 1, 2]], "pair"),
    ([5], "pair"),
    ([["x", 1]], "run number"),
    ([[-1, 1]], "run number"),
    ([[True, 1]], "run number"),
    ("0:1", "list"),
    ({"0": 1}, "list"),
])
def test_bad_per_run_specs(spec, match):
    option = Option("gain", default_per_run=spec)
    with pytest.raises(ValueError, match=f"'gain'.*{match}|{match}.*'gain'"):
        resolve_option(option, "1", {})
    with pytest.raises(ValueError, match="'gain'"):
        resolve_option(Option("gain", default=1.0), "1", {"gain": {"default_per_run": spec}})


def test_per_run_override_with_extra_keys():
    with pytest.raises(ValueError, match="'gain'.*'note'"):
        resolve_option(Option("gain"), "1", {"gain": {"default_per_run": [[0, 1]], "note": "x"}})


def test_per_run_needs_a_run_id():
    with pytest.raises(ValueError, match="'threshold'.*run id"):
        resolve_option(THRESHOLD, None, {})


def test_resolve_options_tracked_and_untracked():
    registry = make_registry()
    assert resolve_options(registry, "peak_basics", "150", {"n_workers": 4}) == {
        "gain": 1.0, "threshold": 12, "n_workers": 4}
    assert resolve_options(registry, "records", "0", {}) == {
        "crash": False, "dummy_tracked_option": 42, "secret_time_offset": 0,
        "n_chunks": 10, "recs_per_chunk": 10}


def test_one_namespace_across_plugins():
    class A(Plugin):
        provides = "a"
        options = (Option("shared", default=1),)

    class B(Plugin):
        provides = "b"
        depends_on = ("a",)
        options = (Option("shared", default=2),)

    registry = make_registry(A, B)
    assert resolve_options(registry, "b", None, {})["shared"] == 2
    assert lineage(registry, "b", None, {"shared": 5}) == {
        "a": ["A", "0.0.0", {"shared": 5}], "b": ["B", "0.0.0", {"shared": 5}]}


def test_duplicate_option_in_plugin():
    class Twice(Plugin):
        provides = "twice"
        options = (Option("x", 1), Option("x", 2))

    with pytest.raises(ValueError, match="'x'"):
        resolve_options(make_registry(Twice), "twice", None, {})


def test_per_run_options_cover_dependencies():
    registry = make_registry()
    assert per_run_options(registry, "records", {}) == set()
    assert per_run_options(registry, "peaks", {}) == {"bonus_area"}
    assert per_run_options(registry, "peak_basics", {}) == {"bonus_area", "threshold"}
    assert per_run_options(registry, "peak_basics", {"bonus_area": 42}) == {"threshold"}
    per_run_gain = {"gain": {"default_per_run": [[0, 1.0]]}}
    assert per_run_options(registry, "peak_basics", per_run_gain) == {"bonus_area", "threshold", "gain"}
    assert per_run_options(registry, "peaks", per_run_gain) == {"bonus_area"}
    untracked = {"n_workers": {"default_per_run": [[0, 1], [5, 2]]}}
    assert "n_workers" in per_run_options(registry, "peak_basics", untracked)


def test_unknown_options():
    registry = make_registry()
    assert unknown_options(registry, {"gain": 1, "gian": 2, "crash": True}) == ["gian"]
    assert unknown_options(registry, None) == []


# ---------------------------------------------------------------------------------------------
# Lineages
# ---------------------------------------------------------------------------------------------

def test_strax_lineage_hashes_from_registry():
    registry = make_registry()
    records = lineage(registry, "records", "0", {})
    assert records == STRAX_RECORDS_LINEAGE
    assert lineage_hash(records) == "j3nd2fjbiq"
    peaks = lineage(registry, "peaks", "0", {"bonus_area": 42})
    assert peaks == {
        "peaks": ["Peaks", "0.0.0", {"base_area": 0, "give_wrong_dtype": False, "bonus_area": 42}],
        **STRAX_RECORDS_LINEAGE,
    }
    assert lineage_hash(peaks) == "xia2iit6vb"
    # strax's superrun lineage equals its subruns' when the per-run option is overridden.
    assert lineage_hash(superrun_lineage(registry, "peaks", {"bonus_area": 42})) == "xia2iit6vb"


def test_lineage_resolves_per_run_defaults_for_the_run():
    registry = make_registry()
    run0 = lineage(registry, "peak_basics", "0", {})
    run150 = lineage(registry, "peak_basics", "000150", {})
    assert set(run0) == {"records", "peaks", "peak_basics"}
    assert run0["peak_basics"] == ["PeakBasics", "1.2.0", {"gain": 1.0, "threshold": 10}]
    assert run0["peaks"][2]["bonus_area"] == 0
    assert run150["peak_basics"][2]["threshold"] == 12
    assert run150["peaks"][2]["bonus_area"] == 1
    assert lineage_hash(run0) != lineage_hash(run150)
    # Untracked options are not part of the lineage.
    assert "n_workers" not in run0["peak_basics"][2]
    assert lineage(registry, "peak_basics", "0", {"n_workers": 8}) == run0
    # Changing a tracked option or a version changes the hash.
    assert lineage_hash(lineage(registry, "peak_basics", "0", {"gain": 1.1})) != lineage_hash(run0)

    class PeakBasics2(PeakBasics):
        version = "1.3.0"

    other = make_registry(Records, Peaks, PeakBasics2)
    changed = lineage(other, "peak_basics", "0", {})
    assert lineage_hash(changed) != lineage_hash(run0)
    assert changed["peak_basics"][0] == "PeakBasics2"


def test_lineage_excludes_non_dependencies():
    registry = make_registry()
    assert set(lineage(registry, "peaks", "0", {})) == {"peaks", "records"}
    with pytest.raises(KeyError, match="nope"):
        lineage(registry, "nope", "0", {})


def test_lineage_values_are_plain_json():
    class Odd(Plugin):
        provides = "odd"
        options = (
            Option("window", default=(np.int64(1), 2.5)),
            Option("flag", default=np.bool_(True)),
            Option("scale", default=np.float32(0.5)),
            Option("table", default={"a": (1, np.int32(2))}),
            Option("array", default=np.array([[1, 2], [3, 4]], dtype=np.int16)),
        )

    result = lineage(make_registry(Odd), "odd", None, {})
    assert result == {"odd": ["Odd", "0.0.0", {
        "window": [1, 2.5], "flag": True, "scale": 0.5, "table": {"a": [1, 2]},
        "array": [[1, 2], [3, 4]]}]}
    options = result["odd"][2]
    assert type(options["window"][0]) is int and type(options["flag"]) is bool
    assert type(options["scale"]) is float
    assert json.loads(json.dumps(result)) == result


@pytest.mark.parametrize("bad, match", [
    ({1: "a"}, "not a string"),
    ({"x", "y"}, "sets"),
    (b"raw", "bytes"),
    (object(), "object"),
    (np.array([{"a": 1}], dtype=object), "dtype"),
])
def test_unjsonable_option_values_are_refused(bad, match):
    class Bad(Plugin):
        provides = "bad"
        options = (Option("thing", default=bad),)

    with pytest.raises(TypeError, match=f"bad: option 'thing'.*{match}"):
        lineage(make_registry(Bad), "bad", None, {})


option_values = st.recursive(
    st.one_of(
        json_scalars,
        st.integers(-(2**40), 2**40).map(np.int64),
        st.integers(0, 255).map(np.uint8),
        st.floats(allow_nan=False, width=32).map(np.float32),
        st.floats(allow_nan=False).map(np.float64),
        st.booleans().map(np.bool_),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=5), children, max_size=4),
    ),
    max_leaves=15,
)


@given(st.dictionaries(st.sampled_from(["crash", "dummy_tracked_option", "base_area", "bonus_area",
                                        "give_wrong_dtype", "gain", "threshold"]),
                       option_values),
       st.integers(0, 10**6))
@settings(max_examples=150, deadline=None)
def test_lineage_hash_survives_json_round_trip(overrides, run):
    registry = make_registry()
    for make in (lambda: lineage(registry, "peak_basics", str(run).zfill(6), overrides),
                 lambda: superrun_lineage(registry, "peak_basics", overrides)):
        original = make()
        stored = json.loads(json.dumps(original))
        assert stored == original
        assert lineage_hash(stored) == lineage_hash(original)
        assert compare_lineages(original, stored) == []


@given(option_values)
@settings(max_examples=200, deadline=None)
def test_to_jsonable_keeps_hash_where_strax_can_hash(value):
    plain = to_jsonable(value)
    assert json.loads(json.dumps(plain)) == plain
    try:
        strax_style = deterministic_hash(value)
    except TypeError:
        return  # np.bool_ somewhere: strax can't hash the raw value
    assert deterministic_hash(plain) == strax_style


# ---------------------------------------------------------------------------------------------
# Superrun lineages
# ---------------------------------------------------------------------------------------------

def test_superrun_lineage_placeholder():
    registry = make_registry()
    result = superrun_lineage(registry, "peaks", {})
    assert result["peaks"][2]["bonus_area"] == "<SUBRUN-DEPENDENT:tjb4ewtbrb>"
    assert result["peaks"][2]["base_area"] == 0
    assert result["records"] == STRAX_RECORDS_LINEAGE["records"]
    assert subrun_dependent_value([(0, 0), (1, 1)]) == "<SUBRUN-DEPENDENT:tjb4ewtbrb>"
    assert subrun_dependent_value([[0, 0], [1, 1]]) == "<SUBRUN-DEPENDENT:tjb4ewtbrb>"
    assert subrun_dependent_value([[np.int64(0), 0], [1, np.int64(1)]]) == "<SUBRUN-DEPENDENT:tjb4ewtbrb>"
    # Run-independent options resolve as for any run; no run id is needed.
    basics = superrun_lineage(registry, "peak_basics", {"gain": 2.0})["peak_basics"]
    assert basics[2]["gain"] == 2.0
    spec_hash = deterministic_hash([[0, 10], [100, 12], [200, 15]])
    assert basics[2]["threshold"] == f"<SUBRUN-DEPENDENT:{spec_hash}>"


def test_changing_per_run_spec_changes_superrun_hash():
    registry = make_registry()
    base = lineage_hash(superrun_lineage(registry, "peak_basics", {}))
    specs = [
        [[0, 10], [100, 12], [200, 16]],  # a value
        [[0, 10], [101, 12], [200, 15]],  # a boundary
        [[0, 10], [100, 12]],             # an entry fewer
        [[0, 10.0], [100, 12], [200, 15]],  # 10 vs 10.0
    ]
    hashes = {lineage_hash(superrun_lineage(registry, "peak_basics",
                                            {"threshold": {"default_per_run": spec}}))
              for spec in specs}
    assert len(hashes) == len(specs) and base not in hashes
    # The same spec given as an override hashes like the declared one.
    same = {"threshold": {"default_per_run": [(0, 10), (100, 12), (200, 15)]}}
    assert lineage_hash(superrun_lineage(registry, "peak_basics", same)) == base
    # Fixing the option makes the superrun lineage that of any run.
    fixed = {"threshold": 12, "bonus_area": 42}
    assert superrun_lineage(registry, "peak_basics", fixed) == lineage(registry, "peak_basics", "7", fixed)


def test_superrun_lineage_validates_specs():
    with pytest.raises(ValueError, match="'threshold'.*sorted"):
        superrun_lineage(make_registry(), "peak_basics",
                         {"threshold": {"default_per_run": [[5, 1], [0, 2]]}})


# ---------------------------------------------------------------------------------------------
# Comparing lineages
# ---------------------------------------------------------------------------------------------

def test_subruns_differ_only_in_per_run_options():
    registry = make_registry()
    per_run = per_run_options(registry, "peak_basics", {})
    run0 = lineage(registry, "peak_basics", "0", {})
    run150 = lineage(registry, "peak_basics", "150", {})
    diffs = compare_lineages(run0, run150)
    assert diffs == [
        LineageDifference("peak_basics", "option", "threshold", 10, 12),
        LineageDifference("peaks", "option", "bonus_area", 0, 1),
    ]
    assert compare_lineages(run0, run150, per_run) == []
    masked0 = mask_per_run_options(run0, per_run)
    assert masked0["peaks"][2]["bonus_area"] == PER_RUN_MARKER
    assert masked0["peak_basics"][2] == {"gain": 1.0, "threshold": PER_RUN_MARKER}
    assert run0["peaks"][2]["bonus_area"] == 0  # the input is left alone
    assert lineage_hash(masked0) == lineage_hash(mask_per_run_options(run150, per_run))


def test_compare_option_version_plugin_and_data_types():
    a = {"peaks": ["Peaks", "0.0.1", {"gain": 1.0, "only_a": 1}],
         "records": ["Records", "0.0.0", {}],
         "extra": ["Extra", "1", {}]}
    b = {"peaks": ["PeaksV2", "0.0.2", {"gain": 1.1, "only_b": 2}],
         "records": ("Records", "0.0.0", {})}
    diffs = compare_lineages(a, b)
    assert diffs == [
        LineageDifference("extra", "data_type", None, ["Extra", "1", {}], ABSENT),
        LineageDifference("peaks", "plugin", None, "Peaks", "PeaksV2"),
        LineageDifference("peaks", "version", None, "0.0.1", "0.0.2"),
        LineageDifference("peaks", "option", "gain", 1.0, 1.1),
        LineageDifference("peaks", "option", "only_a", 1, ABSENT),
        LineageDifference("peaks", "option", "only_b", ABSENT, 2),
    ]
    text = format_differences(diffs)
    assert text.splitlines() == [
        "extra: data type only in the first lineage",
        "peaks: plugin differs: 'Peaks' vs 'PeaksV2'",
        "peaks: version differs: '0.0.1' vs '0.0.2'",
        "peaks: option 'gain' differs: 1.0 vs 1.1",
        "peaks: option 'only_a' differs: 1 vs (not set)",
        "peaks: option 'only_b' differs: (not set) vs 2",
    ]
    assert format_differences(compare_lineages(b, a), "superrun", "subrun 012").splitlines()[0] == \
        "extra: data type only in subrun 012"
    assert format_differences([]) == ""
    # Ignoring an option by name ignores its absence as well.
    assert [d.option for d in compare_lineages(a, b, {"only_a", "only_b", "gain"})
            if d.field == "option"] == []


def test_compare_uses_hash_semantics():
    a = {"p": ["P", "1", {"x": 1, "y": (1, 2), "z": float("nan")}]}
    b = {"p": ["P", "1", {"x": 1.0, "y": [1, 2], "z": float("nan")}]}
    assert compare_lineages(a, b) == [LineageDifference("p", "option", "x", 1, 1.0)]
    assert str(compare_lineages(a, b)[0]) == "p: option 'x' differs: 1 vs 1.0"
    c = {"p": ["P", "1", {"x": True, "y": [1, 2], "z": float("nan")}]}
    assert [d.option for d in compare_lineages(b, c)] == ["x"]


def test_compare_rejects_malformed_entries():
    with pytest.raises(ValueError, match="'p'"):
        compare_lineages({"p": ["P", "1"]}, {"p": ["P", "1", {}]})


@given(st.dictionaries(st.sampled_from(["gain", "threshold", "bonus_area", "base_area", "crash"]),
                       json_values, max_size=4),
       st.dictionaries(st.sampled_from(["gain", "threshold", "bonus_area", "base_area", "crash"]),
                       json_values, max_size=4),
       st.sets(st.sampled_from(["gain", "threshold", "bonus_area"])))
@settings(max_examples=150, deadline=None)
def test_compare_empty_iff_masked_hashes_equal(over_a, over_b, ignored):
    registry = make_registry()
    a = lineage(registry, "peak_basics", "150", over_a)
    b = lineage(registry, "peak_basics", "150", over_b)
    diffs = compare_lineages(a, b, ignored)
    same_hash = (lineage_hash(mask_per_run_options(a, ignored))
                 == lineage_hash(mask_per_run_options(b, ignored)))
    assert (diffs == []) == same_hash
    assert all(d.option not in ignored for d in diffs)
    assert {d.option for d in diffs} <= set(over_a) | set(over_b)


@pytest.mark.parametrize("given, typed", [
    # what Snakemake's --config 'options={...}' hands over: nested values as text
    ({"dummy_tracked_option": "43"}, {"dummy_tracked_option": 43}),
    ({"gain": "2.5", "crash": "true"}, {"gain": 2.5, "crash": True}),
    ({"gain": "2"}, {"gain": 2}),                              # as 2 in config.yaml
    ({"threshold": "11"}, {"threshold": 11}),                  # kind from the per-run default
    ({"threshold": {"default_per_run": [["0", "11"], ["100", "13"]]}},
     {"threshold": {"default_per_run": [[0, 11], [100, 13]]}}),
    # typed values pass unchanged; text that is not of the option's kind is left to the plugin
    ({"dummy_tracked_option": 43, "gain": 2.5}, {"dummy_tracked_option": 43, "gain": 2.5}),
    ({"dummy_tracked_option": "many", "crash": "1"}, {"dummy_tracked_option": "many", "crash": "1"}),
    ({"dummy_tracked_option": "[1, 2"}, {"dummy_tracked_option": "[1, 2"}),
])
def test_overrides_given_as_text_are_typed_by_the_option(given, typed):
    registry = make_registry()
    assert typed_overrides(registry, given) == typed
    if "many" not in str(given) and "[1, 2" not in str(given):   # the lineage of the typed value
        assert lineage(registry, "peak_basics", "150", typed_overrides(registry, given)) == \
            lineage(registry, "peak_basics", "150", typed)
