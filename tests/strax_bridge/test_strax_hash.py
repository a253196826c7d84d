"""strax itself as the oracle for hashes, keys and run documents."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest

strax = pytest.importorskip("strax")

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from superruns.model.lineage import deterministic_hash  # noqa: E402
from superruns.straxio.format import decode_run_document, encode_run_document, folder_name, superrun_suffix  # noqa: E402

pytestmark = pytest.mark.strax

RECORDS = {"records": ("Records", "0.0.0", {"crash": False, "dummy_tracked_option": 42})}
PEAKS = {"peaks": ("Peaks", "0.0.0", {"base_area": 0, "bonus_area": 42, "give_wrong_dtype": False}), **RECORDS}

# strax-reference 2.9: input -> hash, checked against strax 2.2.3.
VECTORS = [
    (({"0": "all", "1": "all", "2": "all"}, False), "xasmpdqviq"),
    (({"0": "all", "1": "all", "2": "all"}, True), "m3bpl6gape"),
    (({"0": "all", "1": "all"}, False), "dgoccabkea"),
    (({"0": [0, 1], "1": [10, 11]}, False), "zpogxuggwg"),
    (({"0": "all", "1": [10, 11]}, False), "ddqxc2qpr6"),
    (RECORDS, "j3nd2fjbiq"),
    (PEAKS, "xia2iit6vb"),
    ([(0, 0), (1, 1)], "tjb4ewtbrb"),
    ({"a": 1.0, "b": np.int64(3), "c": None, "d": "x"}, "r2azd4nuyr"),
    (("peaks",), "yrnhthkuom"),
]


@pytest.mark.parametrize("thing, expected", VECTORS)
def test_reference_vectors(thing, expected):
    assert deterministic_hash(thing) == strax.deterministic_hash(thing) == expected


def outcome(function, thing):
    try:
        return "hash", function(thing)
    except Exception as error:                   # both must fail alike
        return "error", type(error).__name__


numpy_scalars = st.one_of(
    st.integers(-2**63, 2**63 - 1).map(np.int64),
    st.integers(-2**31, 2**31 - 1).map(np.int32),
    st.integers(0, 255).map(np.uint8),
    st.floats(allow_nan=True).map(np.float64),
    st.floats(width=32).map(np.float32),
    st.booleans().map(np.bool_),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=8), numpy_scalars)
arrays = hnp.arrays(st.sampled_from([np.int64, np.float64, np.float32, np.int8, np.uint16, np.bool_]),
                    hnp.array_shapes(min_dims=1, max_dims=2, max_side=3))
things = st.recursive(
    scalars | arrays,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.tuples(children, children),
                               st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(things)
def test_hash_equals_strax_on_generated_values(thing):
    assert outcome(deterministic_hash, thing) == outcome(strax.deterministic_hash, thing)


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=5), min_size=1, max_size=5),
       st.integers(0, 10**6), st.booleans())
def test_hash_of_unicode_keys_and_lengths(thing, salt, flag):
    thing = {**thing, "é€𝄞": [salt, flag]}
    for length in (1, 10, 32):
        assert deterministic_hash(thing, length) == strax.deterministic_hash(thing, length)


def test_folder_names_are_strax_keys():
    spec = {"8": "all", "10": [[5, 6]], "9": "all"}
    for combining in (False, True):
        key = strax.DataKey("_sr", "peaks", PEAKS, subruns=spec, combining=combining)
        assert key._run_id == f"_sr_{superrun_suffix(spec, combining)}"
    assert folder_name("_sr", "peaks", "xia2iit6vb", spec) == str(strax.DataKey("_sr", "peaks", PEAKS, subruns=spec))
    assert folder_name("0", "peaks", "xia2iit6vb") == str(strax.DataKey("0", "peaks", PEAKS))
    # strax reads the spec back from JSON: tuples are lists, the hash is the same.
    assert superrun_suffix({"0": (0, 1)}) == strax.deterministic_hash(({"0": [0, 1]}, False))


def test_run_documents_read_and_written_like_bson():
    from bson import json_util

    doc = {"name": "_sr", "start": datetime.datetime(2021, 11, 12, 12, 19, 35, 4000),
           "end": datetime.datetime(2021, 11, 12, 12, 19, 51), "livetime": 16.5,
           "old": datetime.datetime(1969, 7, 20, 20, 17), "mode": ["a", "b"], "sub_run_spec": {"1": "all"},
           "tags": [{"name": "x"}]}
    text = encode_run_document(doc)
    assert text == json.dumps(doc, sort_keys=True, indent=4, default=json_util.default)
    assert decode_run_document(text) == json.loads(text, object_hook=json_util.object_hook)
    legacy = '{"start": {"$date": 1636719575004}, "end": {"$date": "2021-11-12T13:19:51.496+0100"}}'
    assert decode_run_document(legacy) == json.loads(legacy, object_hook=json_util.object_hook)
