"""Many short `snakemake` commands at the cost of one start-up: import once, fork per command.

    python snakemake_forks.py commands.json results.json

``commands.json`` is a list of ``{"cwd": dir, "args": [...], "out": file}``. Each command runs in
a forked child exactly as the ``snakemake`` console script runs it (``snakemake.cli.main`` with
the arguments, in ``cwd``, stdout and stderr to ``out``), so its exit status and messages are
the real command's; only the imports (~1 s of the ~1.2 s a failing parse costs) are shared.
``results.json`` gets the exit statuses, in order; two run at a time (``SNAKEMAKE_FORKS``).
Used by tests that run dozens of commands which stop at parse time.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def start(command: dict) -> int:
    """Fork a child that runs one command; return its pid."""
    import snakemake.cli

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fd = os.open(command["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(command["cwd"])
            sys.argv = ["snakemake", *command["args"]]
            snakemake.cli.main(command["args"])
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 2
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def run_all(commands: list[dict], parallel: int = 2) -> list[int]:
    """Exit statuses of the commands, ``parallel`` children at a time."""
    results: list[int | None] = [None] * len(commands)
    running: dict[int, int] = {}
    pending = list(enumerate(commands))
    while pending or running:
        while pending and len(running) < parallel:
            i, command = pending.pop(0)
            running[start(command)] = i
        pid, status = os.wait()
        if pid in running:
            results[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    return results


def main(commands_path: str, results_path: str) -> None:
    import snakemake.cli  # noqa: F401  (the shared start-up)

    import superruns.definitions  # noqa: F401
    import superruns.detector  # noqa: F401
    import superruns.model.lineage  # noqa: F401
    import superruns.project  # noqa: F401

    with open(commands_path) as stream:
        commands = json.load(stream)
    results = run_all(commands, parallel=int(os.environ.get("SNAKEMAKE_FORKS", "2")))
    with open(results_path, "w") as stream:
        json.dump(results, stream)


if __name__ == "__main__":
    main(*sys.argv[1:3])
