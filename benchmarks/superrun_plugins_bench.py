"""accidental_events of a superrun: ours (snakemake, the superrun-level rule) against the same
algorithm as a strax 2.2.3 ExhaustPlugin (``allow_superrun``) on strax's own superrun of the
same subruns, reading the same rows (through the superruns frontend), side by side.

    .venv/bin/python -m benchmarks.superrun_plugins_bench            # 1 GB, 3 repeats
    .venv/bin/python -m benchmarks.superrun_plugins_bench --gb 0.1   # quick

Workspace (made once, under benchmarks/_work/superrun_plugins): ``--runs`` subruns of
peak_basics-like rows (random times, sorted; ``--gb`` of rows in all), their superrun
``_bench`` and its concatenated ``peak_basics`` (built by the package, not timed).
Each measured run is a fresh process, the whole user command, alternating ours and strax's
after a warm-up of each (page cache warm): ours is ``snakemake --cores 1 --allowed-rules
superrun_level --forcerun _bench/accidental_events``; strax's is a ``python -c`` that builds
the Context, defines its superrun and ``get_array``s accidental_events. Peak RSS per process
from ``os.wait4``. Both outputs are checked bitwise equal once. The table goes to stdout
and ``--output``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
T0 = 1_546_300_800_000_000_000
SECOND = 1_000_000_000

STRAX_SCRIPT = textwrap.dedent('''
    import sys, numpy as np, strax
    from superruns.project import Project
    from superruns.detector.accidentals import ACCIDENTAL_OPTIONS, accidental_events
    from superruns.detector.events import EVENT_BASICS_DTYPE
    from superruns.straxio.frontend import SuperrunsFrontend, plugin_stubs

    @strax.takes_config(*[strax.Option(o.name, default=o.default, track=True) for o in ACCIDENTAL_OPTIONS])
    class AccidentalEvents(strax.ExhaustPlugin):
        __version__ = "0.1.0"
        provides, depends_on, data_kind = "accidental_events", "peak_basics", "accidental_events"
        dtype, allow_superrun, save_when = EVENT_BASICS_DTYPE, True, strax.SaveWhen.NEVER
        def compute(self, peaks, start, end):
            return accidental_events(peaks, self.config, start)

    root, out = sys.argv[1], sys.argv[2]
    project = Project.from_file(root + "/config/config.yaml")
    frontend = SuperrunsFrontend(project)
    directory = strax.DataDirectory(out, provide_run_metadata=True, readonly=False)
    runs = list(project.runs)
    for run in runs:
        directory.write_run_metadata(run, frontend.run_metadata(run))
    stubs = plugin_stubs(project, ["peak_basics"])
    for cls in stubs:
        cls.allow_superrun = False
    st = strax.Context(storage=[directory, frontend], register=stubs + [AccidentalEvents],
                       use_per_run_defaults=False)
    st.define_run("_strax_bench", runs)
    rows = st.get_array("_strax_bench", "accidental_events", progress_bar=False)
    np.save(out + "/rows.npy", rows)
''')


def peak_rows(n: int, start: int, duration: int, rng) -> np.ndarray:
    from superruns.detector.peaks import PEAK_BASICS_DTYPE

    rows = np.zeros(n, dtype=PEAK_BASICS_DTYPE)
    rows["time"] = np.sort(rng.integers(start, start + duration - 10_000, n))
    length = rng.integers(50, 2_000, n)
    rows["endtime"] = rows["time"] + length
    rows["center_time"] = rows["time"] + length // 3
    rows["area"] = rng.exponential(100, n)
    rows["area_fraction_top"] = rng.random(n)
    rows["range_50p_area"] = length / 3
    rows["rise_time"] = length / 5
    rows["n_channels"] = rng.integers(1, 9, n)
    rows["n_hits"] = rng.integers(1, 50, n)
    rows["type"] = rng.choice([0, 1, 2], n, p=[0.1, 0.45, 0.45])
    return rows


def make_workspace(root: Path, gb: float, n_runs: int) -> Path:
    marker = root / f".ready-{gb}-{n_runs}"
    if marker.exists():
        return root
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    (root / "config" / "superruns.d").mkdir(parents=True)
    duration = 1_000 * SECOND
    runs = {f"{i + 1:06d}": {"start": T0 + i * 2 * duration, "end": T0 + (2 * i + 1) * duration,
                             "mode": "background", "source": "none", "tags": ["bench"]} for i in range(n_runs)}
    (root / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": runs}))
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump({"_bench": {"runs": list(runs)}}))
    gains = {"pmt_gains": [100.0] * 8, "sim_pmt_gains": [100.0] * 8}     # plain: strax loads superruns
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(
        {"data_dir": "data", "runs": "config/runs.yaml", "superruns": ["config/superruns.yaml", "config/superruns.d"],
         "plugins": ["superruns.detector"], "options": gains}))
    from superruns.build.concatenation import build_from_project
    from superruns.build.metadata import output_metadata
    from superruns.project import Project
    from superruns.storage import DataWriter

    project = Project.from_file(root / "config" / "config.yaml")
    dtype = project.registry["peak_basics"].dtype
    per_run = int(gb * 1e9 / dtype.itemsize / n_runs)
    rng = np.random.default_rng(1)
    for run_id, run in runs.items():
        rows = peak_rows(per_run, run["start"], duration, rng)
        md = output_metadata(project, run_id, "peak_basics", data_kind="peaks", chunk_target_size_mb=200)
        path = project.path(run_id, "peak_basics")
        path.parent.mkdir(parents=True, exist_ok=True)
        with DataWriter(path, dtype, md) as writer:     # 100 s chunks, as a run's would be
            edges = list(range(run["start"], run["end"], 100 * SECOND)) + [run["end"]]
            cuts = np.searchsorted(rows["time"], edges)
            for (a, b), (i, j) in zip(zip(edges, edges[1:]), zip(cuts, cuts[1:])):
                writer.write_chunk(rows[i:j], a, b, run_id=run_id)
    build_from_project(project, "_bench", "peak_basics", project.path("_bench", "peak_basics"))
    marker.touch()
    return root


def measured(command: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=HERE / "_work" / "superrun-plugins-results.md")
    args = parser.parse_args(argv)
    root = make_workspace(HERE / "_work" / "superrun_plugins", args.gb, args.runs)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    bin_dir = Path(sys.executable).parent
    ours = [str(bin_dir / "snakemake"), "-s", str(REPO / "Snakefile"), "--cores", "1", "--allowed-rules",
            "superrun_level", "--forcerun", "_bench/accidental_events", "_bench/accidental_events"]
    strax_out = root / "strax_out"
    theirs = [sys.executable, "-c", STRAX_SCRIPT, str(root), str(strax_out)]
    cases = {"ours: snakemake (superrun_level rule)": ours, "strax 2.2.3: ExhaustPlugin, allow_superrun": theirs}
    results = {name: [] for name in cases}
    for repeat in range(args.repeat + 1):              # the first round is the warm-up
        for name, command in cases.items():
            import shutil

            shutil.rmtree(strax_out, ignore_errors=True)
            strax_out.mkdir()
            sample = measured(command, root, env)
            if repeat:
                results[name].append(sample)
            print(f"{name}: {sample[0]:.2f} s, {sample[1]:.0f} MB", flush=True)
    from superruns.project import Project
    from superruns.storage import DataFile

    project = Project.from_file(root / "config" / "config.yaml")
    ours_rows = DataFile(project.path("_bench", "accidental_events")).load()
    same = np.load(strax_out / "rows.npy").tobytes() == ours_rows.tobytes()
    size = sum(c.nbytes for c in DataFile(project.path("_bench", "peak_basics")).chunks) / 1e9
    lines = [f"accidental_events of a superrun of {args.runs} subruns, {size:.2f} GB of peak_basics rows "
             f"({len(ours_rows)} events; rows bitwise equal: {same}); {args.repeat} measured runs each, warm cache.",
             "", "| implementation | median s | min s | max s | peak RSS MB (median) | time ratio to ours |",
             "|---|---|---|---|---|---|"]
    base = statistics.median(t for t, _ in results[next(iter(cases))])
    for name, samples in results.items():
        times = [t for t, _ in samples]
        lines.append(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} | "
                     f"{statistics.median(m for _, m in samples):.0f} | {statistics.median(times) / base:.2f} |")
    text = "\n".join(lines) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
