"""The strax bridge's commands: ``superruns import``, ``export`` and ``runs`` (registered
through the entry point group ``superruns.commands``, pyproject.toml), also as
``python -m superruns.straxio import|export|runs``; and the internal commands another
environment's interpreter runs for the workflow (``describe``, ``job``, ``run-documents``).
See docs/strax.md."""

from __future__ import annotations

import argparse
import sys

from ..base.errors import EXPECTED_ERRORS
from .format import COMPRESSORS

__all__ = ["main", "register"]


def register(commands) -> None:
    """``superruns import``, ``export`` and ``runs``: the entry point ``superruns.commands``
    (pyproject.toml) hands this the ``superruns`` command's sub-parsers."""
    imp = commands.add_parser("import", help="strax DataDirectory folders -> {data_dir}/{run}/{data_type}-{hash}; "
                              "runs added to the registry")
    imp.add_argument("strax_dir")
    imp.add_argument("--runs", nargs="*", help="strax run ids (default: all); NEW=RUN or NEW=RUN:START:END "
                     "to rename or cut (START, END in int ns since the epoch)")
    imp.add_argument("--data-types", nargs="*", help="default: all; DT=HASH to choose a lineage hash")
    imp.add_argument("--overwrite", action="store_true")
    exp = commands.add_parser("export", help="a run or superrun -> strax DataDirectory folders and run document")
    exp.add_argument("run_id")
    exp.add_argument("data_types", nargs="+")
    exp.add_argument("strax_dir")
    exp.add_argument("--compressor", default="blosc", choices=COMPRESSORS)
    exp.add_argument("--overwrite", action="store_true")
    runs = commands.add_parser("runs", help="the run registry from the strax Context of the config's "
                               "run_registry (docs/strax.md): what is cached, or --refresh to fetch the "
                               "run documents again")
    runs.add_argument("--refresh", action="store_true", help="fetch the run documents again and rewrite the cache")
    for command, work in ((imp, _import), (exp, _export), (runs, _runs)):
        command.set_defaults(run=_with_project(work))


def _with_project(work):
    def run(args, out) -> int:
        from ..cli.common import project_of

        work(project_of(args), args, out)
        return 0

    return run


def parser() -> argparse.ArgumentParser:
    """``python -m superruns.straxio``: the same commands as ``superruns import|export|runs``."""
    parser = argparse.ArgumentParser(prog="python -m superruns.straxio",
                                     description="Import strax DataDirectories, export runs to them "
                                     "(also: superruns import|export|runs).")
    parser.add_argument("--config", default=None,
                        help="the workflow's config.yaml (default: $SUPERRUNS_CONFIG or config/config.yaml)")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
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
        from .registry import StraxBridgeError

        raise StraxBridgeError(f"--runs {item!r}: give NEW=RUN or NEW=RUN:START:END "
                               "(START and END in int ns)") from None


def _data_types_spec(items: list[str]):
    """``[dt, ...]``, or ``{dt: lineage hash}`` when every item is ``DT=HASH``."""
    pairs = [item.partition("=") for item in items]
    return {dt: h for dt, _, h in pairs} if all(h for _, _, h in pairs) else [dt for dt, _, _ in pairs]


def _import(project, args, out) -> None:
    from .importer import import_directory

    runs = dict(_run_spec(item) for item in args.runs) if args.runs else None
    data_types = _data_types_spec(args.data_types) if args.data_types else None
    results = import_directory(args.strax_dir, project.data_dir, runs=runs, data_types=data_types,
                               runs_file=project.config["runs"], overwrite=args.overwrite)
    for r in results:
        print(f"{'kept' if r.skipped else 'imported'} {r.run_id}/{r.data_type} "
              f"({r.n_rows} rows, lineage {r.lineage_hash})", file=out)


def _export(project, args, out) -> None:
    from .exporter import export_run

    for folder in export_run(project, args.run_id, args.data_types, args.strax_dir,
                             compressor=args.compressor, overwrite=args.overwrite):
        print(f"exported {folder}", file=out)


def _runs(project, args, out) -> None:
    from .rundb import cache_path, refresh_runs

    if args.refresh:
        doc = refresh_runs(project)
        print(f"{len(doc['runs'])} runs from {doc['source']['context']} in {cache_path(project)}; added: "
              f"{', '.join(doc['added']) or 'none'}; removed: {', '.join(doc['removed']) or 'none'}; "
              f"skipped documents: {len(doc['skipped'])}", file=out)
        return
    runs = project.runs
    print(f"{len(runs)} runs in {runs.source}", file=out)


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


#: What another environment's interpreter runs for the workflow (external.py, rundb.py), by
#: ``python -m superruns.straxio NAME ARGUMENT``: not commands for people, so not in --help.
INTERNAL = {"describe": _internal, "job": _internal, "run-documents": _run_documents}


def main(argv=None) -> int:
    """``python -m superruns.straxio import|export|runs ...`` (as ``superruns import`` ...), and
    the internal commands. Error policy as in the jobs: an expected error is one line and exit
    status 1; any other keeps its traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in INTERNAL:
        name, argument = (argv + [""])[:2]
        return INTERNAL[name](argparse.Namespace(command=name, spec=argument, request=argument))
    args = parser().parse_args(argv)
    try:
        return args.run(args, sys.stdout)
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
