"""The run registry from where runs are recorded: a strax Context's run documents.

::

    run_registry:                                  # config/config.yaml (default: the runs: file)
      context: xenon_runs:make_context             # a strax.Context: the RunDB, or DataDirectories
      select: {include_tags: [sr1]}                # optional: st.select_runs(...) keyword arguments
      python: .venv-straxen/bin/python             # optional: the environment with the Context's packages
      cache: config/runs.strax.json                # default

The Context's ``select_runs`` gives every regular run's document (name, number, start, end,
mode, source, tags); they become the project's :class:`~superruns.model.runs.RunRegistry`, so
``query:``, data quality and the lock use them exactly as ``runs.yaml``. The documents are
cached in ``cache`` (JSON, marked as ours, with where they came from): the first use fetches
them, later uses read the cache, and ``superruns runs --refresh`` fetches them
again (then the lock tells which query superruns the new runs change). Documents that cannot
be runs (no start or end, a superrun, an id strax would refuse) are listed in the cache as
skipped, with the reason. With ``python``, the Context is made in that interpreter (its
environment has strax and the Context's packages, e.g. straxen; this one need not).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
from pathlib import Path

from ..base.atomic import write_atomic
from .registry import StraxBridgeError

__all__ = ["CACHE_FORMAT", "context_runs", "documents_from_context", "fetch_documents", "refresh_runs"]

CACHE_FORMAT = "superruns.straxio.rundb/1"
STORE_FIELDS = ("name", "number", "start", "end", "mode", "source", "tags.name")


def _spec(project) -> dict:
    spec = dict(project.config.get("run_registry") or {})
    if not spec.get("context"):
        raise StraxBridgeError(f"{project.source}: run_registry needs context: 'module:function' returning the "
                               "strax.Context whose run documents are the registry")
    return spec


def cache_path(project) -> Path:
    return project.base_dir / _spec(project).get("cache", "config/runs.strax.json")


def _source(spec: dict) -> dict:
    return {"context": spec["context"], "select": spec.get("select") or {}}


def context_runs(project):
    """The provider the config's ``run_registry`` names by default: the cached run documents
    as a RunRegistry (fetched first when there is no cache, or it came from another source)."""
    from ..model.runs import RunRegistry

    path = cache_path(project)
    doc = _read_cache(path)
    if doc is None or doc["source"] != _source(_spec(project)):
        doc = refresh_runs(project, quiet=False)
    return RunRegistry.from_dict({"runs": doc["runs"]}, source=path)


def _read_cache(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
    except ValueError as error:
        raise StraxBridgeError(f"{path}: not valid JSON ({error}); remove it and fetch the run documents again: "
                               "superruns runs --refresh") from None
    if not isinstance(doc, dict) or doc.get("format") != CACHE_FORMAT:
        raise StraxBridgeError(f"{path} is not a run-document cache of superruns: move it away, or set "
                               "run_registry.cache to another file")
    return doc


def refresh_runs(project, *, quiet: bool = True) -> dict:
    """Fetch the run documents from the Context again and rewrite the cache (atomically; only a
    cache of ours is replaced). Returns the cache's content, with ``added``/``removed`` run ids."""
    spec, path = _spec(project), cache_path(project)
    old = _read_cache(path)
    runs, skipped = entries_of(fetch_documents(project, spec))
    doc = {"format": CACHE_FORMAT, "source": _source(spec),
           "fetched": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "runs": runs, "skipped": skipped}
    from ..model.runs import RunRegistry

    RunRegistry.from_dict({"runs": runs}, source=f"the run documents of {spec['context']}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    before = set(old["runs"]) if old else set()
    doc.update(added=sorted(set(runs) - before), removed=sorted(before - set(runs)))
    if not quiet:
        print(f"superruns: run registry: {len(runs)} runs from strax Context {spec['context']} written to {path} "
              f"({len(skipped)} documents skipped); refresh: superruns runs --refresh",
              file=sys.stderr)
    return doc


def fetch_documents(project, spec: dict) -> list[dict]:
    """The Context's run documents (JSON-safe, times in int ns), made here or in ``spec['python']``."""
    python = spec.get("python")
    if not python:
        return documents_from_context(spec["context"], spec.get("select") or {})
    if os.sep in python or "/" in python:
        python = str(project.base_dir / python) if not os.path.isabs(python) else python
    request = json.dumps({"context": spec["context"], "select": spec.get("select") or {}})
    try:
        result = subprocess.run([python, "-m", "superruns.straxio", "run-documents", request],
                                capture_output=True, text=True, cwd=project.base_dir)
    except OSError as error:
        raise StraxBridgeError(f"run_registry.python {spec['python']!r} cannot be run ({error}); fix the path "
                               "(make straxen-env builds .venv-straxen)") from None
    if result.returncode:
        raise StraxBridgeError(f"run_registry: {python} could not give the run documents of {spec['context']}: "
                               + (result.stderr.strip().splitlines() or ["(no message)"])[-1])
    return json.loads(result.stdout)


def documents_from_context(reference: str, select: dict) -> list[dict]:
    """The run documents of the Context ``reference`` makes (``scan_runs`` with the fields a
    registry needs), those ``select_runs(**select)`` selects when ``select`` is given, as
    JSON-safe documents."""
    import importlib

    module_name, _, function = reference.partition(":")
    try:
        context = getattr(importlib.import_module(module_name), function)()
    except (ImportError, AttributeError) as error:
        raise StraxBridgeError(f"run_registry.context {reference!r} cannot be loaded ({error})") from None
    wanted = set(context.select_runs(**select)["name"]) if select else None
    table = context.scan_runs(store_fields=STORE_FIELDS)      # select_runs keeps only some fields
    fields = [f for f in ("name", "number", "start", "end", "mode", "source", "tags") if f in table.columns]
    return [{field: _plain(row[field]) for field in fields} for _, row in table.iterrows()
            if wanted is None or row["name"] in wanted]


def _plain(value):
    """A select_runs cell as JSON: times as int ns (naive = UTC, as strax's), NaN/NaT as None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "to_pydatetime") or isinstance(value, _dt.datetime):
        import pandas as pd

        stamp = pd.Timestamp(value)
        if stamp is pd.NaT:
            return None
        return int((stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp).value)
    if hasattr(value, "item"):
        return value.item()
    return value


def entries_of(documents: list[dict]) -> tuple[dict, dict]:
    """``(runs, skipped)``: the registry entries of the regular runs' documents, and why the
    others are not runs."""
    from ..base.names import run_id_problem

    runs, skipped = {}, {}
    for doc in documents:
        name = str(doc.get("name"))
        if name.startswith("_"):
            skipped[name] = "a superrun of strax's (define superruns in the workflow's definitions)"
        elif problem := run_id_problem(name):
            skipped[name] = problem
        elif not isinstance(doc.get("start"), int) or not isinstance(doc.get("end"), int):
            skipped[name] = "no start or end in its run document"
        elif not doc["start"] < doc["end"]:
            skipped[name] = f"start {doc['start']} is not before end {doc['end']}"
        else:
            runs[name] = _entry(doc)
    return runs, skipped


def _entry(doc: dict) -> dict:
    entry = {"start": doc["start"], "end": doc["end"]}
    for key in ("mode", "source"):
        if doc.get(key):
            entry[key] = str(doc[key])
    tags = sorted({t for t in str(doc.get("tags") or "").split(",") if t})
    if tags:
        entry["tags"] = tags
    if isinstance(doc.get("number"), int):
        entry["number"] = doc["number"]
    return entry
