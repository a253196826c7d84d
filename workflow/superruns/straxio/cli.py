"""``python -m superruns.straxio import|export|runs ...`` (see docs/strax.md)."""

from __future__ import annotations

import argparse
import os
import sys

from ..base.errors import EXPECTED_ERRORS
from .format import COMPRESSORS
from .registry import StraxBridgeError

__all__ = ["main"]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m superruns.straxio",
                                     description="Import strax DataDirectories, export runs to them.")
    parser.add_argument("--config", default=os.environ.get("SUPERRUNS_CONFIG", "config/config.yaml"),
                        help="the workflow's config.yaml (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="strax folders -> {data_dir}/{run}/{data_type}-{hash}; runs added to the registry")
    imp.add_argument("strax_dir")
    imp.add_argument("--runs", nargs="*", help="strax run ids (default: all); NEW=RUN or NEW=RUN:START:END "
                     "to rename or cut (ns)")
    imp.add_argument("--data-types", nargs="*", help="default: all; DT=HASH to choose a lineage hash")
    imp.add_argument("--overwrite", action="store_true")
    exp = sub.add_parser("export", help="a run or superrun -> strax DataDirectory folders and run document")
    exp.add_argument("run_id")
    exp.add_argument("data_types", nargs="+")
    exp.add_argument("strax_dir")
    exp.add_argument("--compressor", default="blosc", choices=COMPRESSORS)
    exp.add_argument("--overwrite", action="store_true")
    runs = sub.add_parser("runs", help="the run registry from the strax Context of the config's run_registry "
                          "(docs/strax.md): what is cached, or --refresh to fetch the run documents again")
    runs.add_argument("--refresh", action="store_true", help="fetch the run documents again and rewrite the cache")
    documents = sub.add_parser("run-documents", help=argparse.SUPPRESS)   # for run_registry.python (rundb.py)
    documents.add_argument("request")
    describe = sub.add_parser("describe", help=argparse.SUPPRESS)   # for strax.python (external.py)
    describe.add_argument("spec")
    job = sub.add_parser("job", help=argparse.SUPPRESS)             # rule strax_produce in strax.python
    job.add_argument("spec")
    return parser


def _internal(args) -> int:
    """The commands another environment's interpreter runs for the workflow (external.py)."""
    import json

    from .external import declarations_to_json, job_from_json

    if args.command == "job":
        from .producer import produce_job

        produce_job(job_from_json(args.spec))
        return 0
    from ..project import Project
    from .producer import strax_data_types

    spec = json.loads(open(args.spec).read())
    project = Project(spec["config"], spec["base_dir"])
    try:
        entries = strax_data_types(project, project.config["strax"], known=set(spec["known"]))
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(declarations_to_json(entries))
    return 0


def _run_spec(item: str):
    """``NEW=RUN`` or ``NEW=RUN:START:END`` -> ``(new id, strax run id or (run, start, end))``."""
    new_id, _, source = item.partition("=")
    parts = (source or new_id).split(":")
    if len(parts) == 1:
        return new_id, parts[0]
    try:
        run, start, end = parts
        return new_id, (run, int(start), int(end))
    except ValueError:
        raise StraxBridgeError(f"--runs {item!r}: give NEW=RUN or NEW=RUN:START:END "
                               "(START and END in int ns)") from None


def _data_types_spec(items: list[str]):
    """``[dt, ...]``, or ``{dt: lineage hash}`` when every item is ``DT=HASH``."""
    pairs = [item.partition("=") for item in items]
    return {dt: h for dt, _, h in pairs} if all(h for _, _, h in pairs) else [dt for dt, _, _ in pairs]


def _import(project, args) -> None:
    from .importer import import_directory

    runs = dict(_run_spec(item) for item in args.runs) if args.runs else None
    data_types = _data_types_spec(args.data_types) if args.data_types else None
    results = import_directory(args.strax_dir, project.data_dir, runs=runs, data_types=data_types,
                               runs_file=project.config["runs"], overwrite=args.overwrite)
    for r in results:
        print(f"{'kept' if r.skipped else 'imported'} {r.run_id}/{r.data_type} "
              f"({r.n_rows} rows, lineage {r.lineage_hash})")


def _export(project, args) -> None:
    from .exporter import export_run

    for folder in export_run(project, args.run_id, args.data_types, args.strax_dir,
                             compressor=args.compressor, overwrite=args.overwrite):
        print(f"exported {folder}")


def _runs(project, args) -> None:
    from .rundb import cache_path, refresh_runs

    if args.refresh:
        doc = refresh_runs(project)
        print(f"{len(doc['runs'])} runs from {doc['source']['context']} in {cache_path(project)}; added: "
              f"{', '.join(doc['added']) or 'none'}; removed: {', '.join(doc['removed']) or 'none'}; "
              f"skipped documents: {len(doc['skipped'])}")
        return
    runs = project.runs
    print(f"{len(runs)} runs in {runs.source}")


def _run_documents(args) -> int:
    """In ``run_registry.python``: the Context's run documents as JSON on stdout."""
    import json

    from .rundb import documents_from_context

    request = json.loads(args.request)
    try:
        print(json.dumps(documents_from_context(request["context"], request["select"])))
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    """``python -m superruns.straxio import|export ...`` (see docs/strax.md). Error policy as in
    the jobs: an expected error is one line and exit status 1; any other keeps its traceback."""
    args = parser().parse_args(argv)
    if args.command in ("describe", "job"):
        return _internal(args)
    if args.command == "run-documents":
        return _run_documents(args)
    from ..project import Project

    try:
        project = Project.from_file(args.config)
        {"import": _import, "export": _export, "runs": _runs}[args.command](project, args)
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
