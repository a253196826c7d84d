"""Bad dataset definitions: each a one-line error naming the file, the superrun and the fix,
with nothing written (the lock of a good query superrun beside a bad one stays unwritten)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from superruns.base.errors import SuperrunsError
from superruns.definitions import Definitions
from superruns.model.runs import RunRegistry

S = 1_000_000_000
T = 1_546_509_600 * S
RUNS = {f"{i:06d}": {"start": T + i * 200 * S, "end": T + i * 200 * S + 100 * S,
                     "mode": "background", "tags": ["sr1"]} for i in range(1, 5)}
DQ = {"subsystems": ["tpc"], "runs": {"000001": {"tpc": "good"}}}
GOOD = {"_good": {"query": {"tags": ["sr1"]}}}


def load(root: Path, superruns: dict, veto_file: str | None = None) -> Path:
    (root / "config" / "dq").mkdir(parents=True, exist_ok=True)
    (root / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": RUNS}))
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump({**GOOD, **superruns}))
    (root / "config" / "dq" / "v1.yaml").write_text(yaml.safe_dump(DQ))
    if veto_file is not None:
        (root / "veto.csv").write_text(veto_file)
    lock = root / "config" / "superruns.lock.yaml"
    Definitions.load([root / "config" / "superruns.yaml"],
                     RunRegistry.load(root / "config" / "runs.yaml"), base_dir=root, lock=lock
                     ).lock.write_pending()    # as a run of the workflow, before its first job
    return lock


CASES = {
    "unknown query key": ({"_x": {"query": {"modes": "background"}}}, None,
                          "unknown query key 'modes'"),
    "unknown DQ version": ({"_x": {"query": {"dq": {"version": "v7", "require": ["tpc"]}}}}, None,
                           "no data-quality version 'v7' (known: v1)"),
    "unknown DQ subsystem": ({"_x": {"query": {"dq": {"version": "v1", "require": ["nv"]}}}}, None,
                             "has no subsystem 'nv'"),
    "query leaving nothing": ({"_x": {"query": {"mode": "kr83m"}}}, None,
                              "the filter mode in ['kr83m'] removed the last 4 run(s)"),
    "dq leaving nothing": ({"_x": {"query": {"tags": ["sr1"], "start": T + 400 * S,
                                             "dq": {"version": "v1", "require": ["tpc"]}}}}, None,
                           "the filter dq v1 good in ['tpc'] removed the last 3 run(s)"),
    "set operation on an unknown name": ({"_x": {"difference": ["_good", "_nope"]}}, None,
                                         "no superrun '_nope' is defined"),
    "set operation through a cycle": ({"_x": {"union": ["_y"]}, "_y": {"intersection": ["_x", "_good"]}},
                                      None, "superruns contain each other"),
    "difference leaving nothing": ({"_x": {"difference": ["000001", "_good"]}}, None, "holds no time"),
    "malformed veto file": ({"_x": {"runs": ["000001"], "veto": "veto.csv"}}, "time,run_id\n1,000001\n",
                            "veto file"),
    "veto outside its run": ({"_x": {"runs": ["000001"], "veto": {"000001": [[T, T + S]]}}}, None,
                             "is not inside run '000001'"),
    "veto of an unknown run": ({"_x": {"runs": ["000001"], "veto": {"000009": [[T, T + S]]}}}, None,
                               "run '000009' is not in the run registry"),
    "sample fraction 0": ({"_x": {"runs": ["000001"], "sample": {"fraction": 0}}}, None,
                          "outside (0, 1]"),
    "sample fraction above 1": ({"_x": {"runs": ["000001"], "sample": {"fraction": 1.01}}}, None,
                                "outside (0, 1]"),
    "two bases": ({"_x": {"query": {"tags": ["sr1"]}, "union": ["_good"]}}, None,
                  "query and union in one definition"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_dataset_definition(tmp_path, case):
    superruns, veto_file, words = CASES[case]
    with pytest.raises(SuperrunsError) as info:
        load(tmp_path, superruns, veto_file)
    text = str(info.value)
    assert words in text
    assert "superruns.yaml" in text and "superrun '_" in text and "fix:" in text
    assert "\n" not in text
    assert not (tmp_path / "config" / "superruns.lock.yaml").exists()


def test_a_hand_edited_lock_is_refused_and_left_alone(tmp_path):
    lock = load(tmp_path, {})
    edited = lock.read_text().replace("'000004'", "'000005'")
    lock.write_text(edited)
    with pytest.raises(SuperrunsError, match=r"'_good': the entry does not match its hash.*fix:"):
        load(tmp_path, {})
    assert lock.read_text() == edited
