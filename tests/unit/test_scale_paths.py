"""The fast paths of issue 12, class 5 give exactly what the general code gives: span merging
on arrays, hashes of range lists, spec summaries, YAML int sequences, range parsing."""

from __future__ import annotations

import numpy as np
import pytest

from superruns.base.hashing import deterministic_hash, hashablize
from superruns.base.intervals import merge_span_arrays, merge_spans
from superruns.base.yamlio import yaml_load
from superruns.definitions.errors import DefinitionError
from superruns.definitions.metadata import MAX_LISTED_RANGES, file_spec_fields, hash_form
from superruns.definitions.parsing import normalise_ranges


@pytest.mark.parametrize("seed", range(20))
def test_merge_span_arrays_equals_merge_spans(seed):
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, 200, rng.integers(0, 40))
    ends = starts + rng.integers(1, 30, len(starts))
    s, e = merge_span_arrays(starts, ends)
    assert np.stack([s, e], axis=1).tolist() == merge_spans(zip(starts, ends))


def test_hashablize_of_range_lists_is_the_general_result():
    ranges = [[1, 2], [3, 4], [5, 6]]
    assert hashablize(ranges) == ((1, 2), (3, 4), (5, 6))
    # Not plain int pairs: the general path (a bool stays a bool, a triple stays a triple).
    assert hashablize([[True, 2], [1, 2, 3]]) == ((True, 2), (1, 2, 3))
    spec = {"000001": ranges, "000002": "all"}
    assert deterministic_hash((hash_form(spec), "contained")) == deterministic_hash((spec, "contained"))


def spec_of(n):
    return {"_inner": [[10 * i, 10 * i + 5] for i in range(n)], "000002": "all"}


def test_file_spec_fields_list_small_specs_and_summarise_large_ones():
    md = {"sub_run_spec": spec_of(3), "sub_run_spec_flat": spec_of(3), "sub_run_spec_hash": "h",
          "selection": "contained"}
    assert file_spec_fields(md) == md
    n = MAX_LISTED_RANGES
    md = {"sub_run_spec": spec_of(n), "sub_run_spec_flat": spec_of(n), "sub_run_spec_hash": "h",
          "selection": "contained"}
    fields = file_spec_fields(md)
    summary = {"n_ranges": n, "start": 0, "end": 10 * (n - 1) + 5, "livetime_ns": 5 * n}
    assert fields["sub_run_spec"] == fields["sub_run_spec_flat"] == {"_inner": summary, "000002": "all"}
    assert fields["sub_run_spec_summarised"] is True
    assert fields["sub_run_spec_hash"] == "h"
    assert fields["sub_run_spec_strax_hash"] == deterministic_hash((md["sub_run_spec"], False))


def test_strax_hash_of_a_summarised_spec_is_strax_folder_suffix():
    pytest.importorskip("strax")
    from superruns.straxio.format import superrun_suffix

    md = {"sub_run_spec": spec_of(MAX_LISTED_RANGES), "sub_run_spec_flat": spec_of(1),
          "sub_run_spec_hash": "h", "selection": "contained"}
    assert file_spec_fields(md)["sub_run_spec_strax_hash"] == superrun_suffix(md["sub_run_spec"])


def test_yaml_int_sequences_load_as_with_the_plain_loader(tmp_path):
    import yaml

    text = ("a: [[1, 2], [0, 10], [007, 0x1F, -3, +4, 1_000, '5', 6.0, 2019-01-01, ~, true]]\n"
            "b:\n- - 1546509600000000000\n  - 1546509600000900000\n- !!str 12\n- &x 13\n- *x\n")
    path = tmp_path / "x.yaml"
    path.write_text(text)
    assert yaml_load(path) == yaml.safe_load(text)


@pytest.mark.parametrize("ranges, problem", [
    ([[5, 6], [1, 2]], "starts before the previous"),
    ([[1, 5], [4, 6]], "overlaps the previous"),
    ([[1, 5], [7, 7]], "0 <= start < end"),
    ([[-1, 5]], "0 <= start < end"),
    ([[1, 2**63]], "0 <= start < end"),
    ([[1, 2], [3, True]], "not an [start, end] pair of ints"),
])
def test_range_checks_name_the_first_bad_range(ranges, problem):
    with pytest.raises(DefinitionError, match=r"\[1\]|\[0\]") as error:
        normalise_ranges(ranges, "f.yaml", "_x", "000001")
    assert problem in str(error.value)


def test_good_ranges_come_back_as_tuples():
    assert normalise_ranges([[1, 2], [2, 5]], "f.yaml", "_x", "000001") == ((1, 2), (2, 5))
    assert normalise_ranges([3, 4], "f.yaml", "_x", "000001") == ((3, 4),)
