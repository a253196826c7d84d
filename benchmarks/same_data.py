"""The same data from two codes: the demo built by each, file by file (issue 26, "byte-identical
data before and after").

    git archive 07051b6 | tar -x -C /tmp/main        # the code before
    .venv/bin/python -m benchmarks.same_data /tmp/main

Builds the demo (``snakemake --cores 2``: the config's default target ``_sr1_v0.2/event_info``
and every run's chain) from nothing with the given code and with this one, each in a copy of
its own ``config/``, under ``benchmarks/_work/same-data``; then compares the file names (run,
data type, lineage hash), the decoded rows' bytes and the chunk boundaries of every data file,
and prints the differences (none expected) and ``_sr1_v0.2/event_info``'s name.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from . import workspace


def build(code: Path, root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(code / "config", root / "config")
    subprocess.run([workspace.SNAKEMAKE, "-s", str(code / "Snakefile"), "--cores", "2", "--quiet", "all"],
                   cwd=root, env=workspace.env(code=str(code)), check=True)
    return root / "data"


def differences(a: Path, b: Path) -> tuple[list[str], list[str]]:
    """(every data file's name under ``a``, the names whose data differ in ``b``)."""
    from superruns.storage import DataFile

    names = sorted(str(p.relative_to(a)) for p in a.glob("*/*-*") if p.is_file())
    if names != sorted(str(p.relative_to(b)) for p in b.glob("*/*-*") if p.is_file()):
        return names, ["the file names differ"]
    differ = []
    for name in names:
        x, y = DataFile(a / name), DataFile(b / name)
        if (x.load().tobytes() != y.load().tobytes() or x.metadata["lineage_hash"] != y.metadata["lineage_hash"]
                or [(c.start, c.end) for c in x.chunks] != [(c.start, c.end) for c in y.chunks]):
            differ.append(name)
    return names, differ


def main(argv: list[str]) -> None:
    before = Path(argv[0]).resolve()
    work = workspace.WORK / "same-data"
    a, b = build(before, work / "before"), build(workspace.REPO, work / "after")
    names, differ = differences(a, b)
    print(f"{len(names)} data files; differing: {differ or 'none'}; "
          f"{[n for n in names if n.startswith('_sr1_v0.2/event_info')]}")


if __name__ == "__main__":
    main(sys.argv[1:])
