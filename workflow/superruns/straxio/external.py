"""strax work in another environment (``strax: {python: PATH}``; strax-free).

straxen 4.1.1 and Snakemake 9 cannot share an environment (utilix needs pydantic<2, Snakemake 9
pydantic 2). With ``strax.python`` set, the Snakemake process never imports strax: the
declaration of the Context's data types (:func:`declare`) and every ``strax_produce`` job
(:func:`produce_job`) run as ``PATH -m superruns.straxio describe|job ...`` in that interpreter,
whose environment needs strax, the Context's packages and the core package only. The job's
inputs, outputs, log, wildcards and config go there as one JSON file; its exit status and its
one-line errors come back unchanged. Without ``strax.python`` both run in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from ..base.atomic import write_atomic
from ..base.hashing import deterministic_hash
from ..storage import dtype_from_metadata
from ..storage.format import dtype_to_str
from .registry import StraxBridgeError, StraxDataType

__all__ = ["interpreter", "declare", "declarations_to_json", "produce_job", "job_from_json"]


HERE = "SUPERRUNS_STRAX_HERE"   # set in the other interpreter: it does the work itself
DECLARED = "SUPERRUNS_STRAX_DECLARED"   # this Snakemake run's declarations, for its jobs


def interpreter(config: dict, base_dir=None) -> str | None:
    """The configured ``strax.python`` as a command (relative paths from ``base_dir``, the
    working directory by default; symlinks kept: a venv's ``bin/python`` must stay a venv's),
    or None (not set, or this is that interpreter)."""
    python = (config.get("strax") or {}).get("python")
    if not python or os.environ.get(HERE):
        return None
    if os.sep in python or "/" in python:
        path = python if os.path.isabs(python) else os.path.join(base_dir or os.getcwd(), python)
        if not os.access(path, os.X_OK):
            raise StraxBridgeError(f"strax.python {python!r}: {path} is not an executable interpreter; build "
                                   "the environment (make straxen-env) or fix the path in the config")
        return os.path.abspath(path)
    found = shutil.which(python)
    if found is None:
        raise StraxBridgeError(f"strax.python {python!r} is not on PATH; give the interpreter's path")
    return found


def _command(python: str, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "superruns.straxio", *args], env={**os.environ, HERE: "1"}, **kwargs)


def _run(python: str, args: list[str], what: str) -> subprocess.CompletedProcess:
    result = _command(python, args, capture_output=True, text=True)
    if result.returncode:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise StraxBridgeError(f"{what} failed in strax.python {python}: {lines[-1] if lines else 'no message'}"
                               " (is the core package installed there: pip install -e . ?)")
    return result


def declarations_to_json(entries) -> str:
    """The registry entries of the Context's data types, as :func:`declare` reads them."""
    return json.dumps([{"provides": e.provides, "depends_on": list(e.depends_on), "data_kind": e.data_kind,
                        "dtype": dtype_to_str(e.dtype), "lineage": e.reference_lineage,
                        "chunk_target_size_mb": e.chunk_target_size_mb, "plugin_name": e.plugin_name,
                        "version": e.version} for e in entries])


def _described(project, python: str, known) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="superruns-describe-") as tmp:
        spec = Path(tmp) / "describe.json"
        spec.write_text(json.dumps({"config": project.config, "base_dir": str(project.base_dir),
                                    "known": sorted(known)}))
        result = _run(python, ["describe", str(spec)], "declaring the strax Context's data types")
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise StraxBridgeError(f"strax.python {python}: describe printed no declarations") from None


def _declarations(project, python: str, known) -> list[dict]:
    """The declarations, asked of ``python`` once per Snakemake run: the process that asks
    writes them to a file named in ``$SUPERRUNS_STRAX_DECLARED``, which its jobs inherit and
    read when the key (strax section, interpreter, imported types) is theirs. A new Snakemake
    process asks again, so a changed Context is always seen."""
    key = deterministic_hash({"strax": project.config.get("strax"), "python": python, "known": sorted(known),
                              "base_dir": str(project.base_dir)})
    cached = os.environ.get(DECLARED)
    if cached:
        try:
            data = json.loads(Path(cached).read_text())
            if data.get("key") == key:
                return data["entries"]
        except (OSError, ValueError):
            pass
    entries = _described(project, python, known)
    path = Path(tempfile.gettempdir()) / f"superruns-strax-declared-{os.getpid()}-{key}.json"
    write_atomic(path, json.dumps({"key": key, "entries": entries}))
    os.environ[DECLARED] = str(path)
    return entries


def declare(project, python: str, known=()) -> list[StraxDataType]:
    """The Context's data types, declared by ``python -m superruns.straxio describe``."""
    entries = _declarations(project, python, known)
    return [StraxDataType(e["provides"], depends_on=e["depends_on"], data_kind=e["data_kind"],
                          dtype=dtype_from_metadata(e["dtype"]), origin="context", lineage=e["lineage"],
                          chunk_target_size_mb=e["chunk_target_size_mb"], plugin_name=e["plugin_name"],
                          version=e["version"]) for e in entries]


def _job_json(smk) -> dict:
    return {"config": smk.config, "input": {name: str(path) for name, path in smk.input.items()},
            "output": [str(path) for path in smk.output], "log": [str(path) for path in smk.log],
            "wildcards": dict(smk.wildcards.items()), "rule": getattr(smk, "rule", None)}


def job_from_json(path) -> SimpleNamespace:
    """A stand-in for Snakemake's ``snakemake`` object, as :mod:`superruns.orchestration.jobs` reads it."""
    data = json.loads(Path(path).read_text())

    class Named(dict):
        def __getattr__(self, name):
            try:
                return self[name]
            except KeyError:
                raise AttributeError(name) from None

    return SimpleNamespace(config=data["config"], input=Named(data["input"]), output=data["output"],
                           log=data["log"], wildcards=Named(data["wildcards"]), rule=data["rule"])


def produce_job(smk) -> None:
    """Snakemake job (rule ``strax_produce``): in ``strax.python`` when set, else here."""
    from ..orchestration.jobs import error_policy

    with error_policy(lambda line: print(line, file=sys.stderr)):
        python = interpreter(smk.config)
    if python is None:
        from .producer import produce_job as produce_here

        produce_here(smk)
        return
    with tempfile.TemporaryDirectory(prefix="superruns-job-") as tmp:
        spec = Path(tmp) / "job.json"
        spec.write_text(json.dumps(_job_json(smk)))      # scratch, removed with its directory
        code = _command(python, ["job", str(spec)]).returncode
    if code:
        raise SystemExit(code)
