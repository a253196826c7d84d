"""The README's module example, as written, against the standalone workflow on the same work
(issue 26, item 4).

Two directories, each with the demo's configuration (``config/`` of the repository: its
runs, superruns, data-quality files and lock):

* standalone: ``snakemake --cores 2 _sr1_v0.2/event_info`` with this repository's Snakefile;
* host: the README's host Snakefile ("Include it in a workflow"), taken from README.md as it
  is written (the path to our Snakefile filled in, its ``...`` a line writing the row count),
  its ``config/config.yaml`` the demo's under ``superruns:``, run with the command line the
  README gives (:data:`HOST_COMMAND`), which builds the same files under ``sr/data`` and
  ``results/size.txt`` from them.

Each measurement starts from nothing (data and ``.snakemake/`` removed, not timed): the whole
command's wall and CPU time (``os.wait4``), alternating, after one warm-up each; medians.

    .venv/bin/python -m benchmarks.module_bench --repeat 3
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics

import yaml

from . import workspace
from .plan_bench import measure

HOST_COMMAND = ["--cores", "2", "--force-use-threads", "results/size.txt"]
STANDALONE_TARGET = "_sr1_v0.2/event_info"


def readme_host_snakefile(snakefile: str) -> str:
    """The README's host Snakefile, with our Snakefile's path and a body for its ``...``."""
    readme = (workspace.REPO / "README.md").read_text()
    section = readme.split("### Include it in a workflow", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "snakemake " + " ".join(HOST_COMMAND) in section, "the README gives another command"
    code = code.replace("path/to/superruns/Snakefile", snakefile)
    return code.replace("        ...", '        open(output[0], "w").write(str(len(rows)))')


def setup(root) -> dict:
    """``root/standalone`` and ``root/host``, each with the demo's configuration."""
    dirs = {"standalone": root / "standalone", "host": root / "host"}
    for path in dirs.values():
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(workspace.REPO / "config", path / "config")
    host = dirs["host"]
    ours = yaml.safe_load((host / "config" / "config.yaml").read_text())
    (host / "config" / "config.yaml").write_text(yaml.safe_dump({"superruns": ours}))
    (host / "Snakefile").write_text(readme_host_snakefile(workspace.snakefile()))
    return dirs


def commands() -> dict[str, list[str]]:
    return {"standalone": [workspace.SNAKEMAKE, "-s", workspace.snakefile(), "--cores", "2", STANDALONE_TARGET],
            "host": [workspace.SNAKEMAKE, *HOST_COMMAND]}


def fresh(path) -> None:
    for name in ("data", "sr", "results", ".snakemake"):
        shutil.rmtree(path / name, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.module_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", default="snapshot", help="as python -m benchmarks --code")
    args = parser.parse_args(argv)
    description = workspace.use_code(args.code)
    dirs = setup(workspace.WORK / "module")
    load = os.getloadavg()
    runs = {name: [] for name in dirs}
    for i in range(args.repeat + 1):
        for name, command in commands().items():
            fresh(dirs[name])
            result = measure(command, dirs[name])
            if i:                                  # the first round is the warm-up
                runs[name].append(result)
            workspace.log(f"  {name} {i}/{args.repeat}: {result}")
    med = {name: {key: statistics.median(r[key] for r in rs) for key in ("cpu", "wall")} for name, rs in runs.items()}
    print(f"\nCode: {description}. Medians of {args.repeat}, alternating; load average {load[0]:.1f} "
          f"before, {os.getloadavg()[0]:.1f} after.\n")
    print("| workflow | command | CPU s | wall s | CPU / standalone | wall / standalone |\n|---|---|---:|---:|---:|---:|")
    for name, m in med.items():
        command = " ".join(["snakemake", *commands()[name][3 if name == "standalone" else 1:]])
        print(f"| {name} | `{command}` | {m['cpu']:.1f} | {m['wall']:.1f} | {m['cpu'] / med['standalone']['cpu']:.2f} "
              f"| {m['wall'] / med['standalone']['wall']:.2f} |")


if __name__ == "__main__":
    main()
