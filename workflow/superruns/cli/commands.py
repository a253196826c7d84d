"""The ``superruns`` command: list runs and superruns, show a definition, inspect and verify
files, a campaign's status, what a superrun still needs (recover), and old processing
versions removed (clean)."""

from __future__ import annotations

import argparse
import json
import sys

from ..base.errors import EXPECTED_ERRORS, SuperrunsError
from ..base.files import os_error_message
from ..base.times import format_ns
from ..project import Project
from .recover import add_recover_command, recover_command


def built_data_types(project: Project, run_id: str) -> list[str]:
    """The data types of ``run_id`` stored in the configuration's lineage; other versions are
    shown with their lineage hash (``peaks-abcde12345``)."""
    from ..storage.layout import stored_in_run

    built = []
    for (data_type, lineage), path in sorted(stored_in_run(project.data_dir, run_id).items()):
        try:
            current = data_type in project.registry and lineage == project.lineage_hash(run_id, data_type)
        except SuperrunsError:       # e.g. per-run defaults of a run id that is not a number
            current = False
        built.append(data_type if current else path.name)
    return built


def list_rows(project: Project) -> list[dict]:
    from ..definitions import DefinitionError

    rows = []
    for run_id in list(project.runs) + list(project.definitions.names):
        row = {"run_id": run_id, "superrun": project.is_superrun(run_id), "start": None,
               "livetime_s": None, "built": built_data_types(project, run_id), "pending": None}
        try:
            md = project.run_metadata(run_id)
            row.update(start=md["start"], livetime_s=md["livetime"])
        except DefinitionError as error:
            # Defined by events the workflow has not selected yet: listed, not resolved.
            row["pending"] = str(error)
        rows.append(row)
    return rows


def show_superrun(project: Project, name: str) -> dict:
    project.check_known(name)
    if not project.is_superrun(name):
        return project.run_metadata(name)
    definition = project.definitions.get(name)
    return {"name": name, "defined_in": str(definition.source_file),
            "direct_subruns": project.definitions.direct_subruns(name),
            "leaf_runs": project.definitions.leaf_runs(name),
            "run_metadata": project.run_metadata(name)}


def file_info(path: str, project: Project | None = None) -> dict:
    """The file's metadata, after checking it is a regular data file; with a project, a file
    inside its data directory must hold the run and data type its place names."""
    from pathlib import Path

    from ..storage import DataFile
    from ..storage.identity import IdentityError, identity_of, identity_problem
    from ..storage.layout import place_of

    data = DataFile(path)
    where = Path(path).absolute()
    if project is not None and where.parent.parent == project.data_dir.absolute():
        run_id, data_type, lineage = place_of(where)
        problem = identity_problem(identity_of(data), run_id, data_type, lineage)
        if problem:
            raise IdentityError(f"{path}: {problem}. Delete it and rebuild it (snakemake --forcerun "
                                f"{run_id}/{data_type}); `superruns info --json` on a copy "
                                "elsewhere shows its metadata.")
    return dict(data.metadata)


def print_table(rows: list[dict], columns: list[str], out) -> None:
    cells = [[str(row[c]) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)), file=out)
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)), file=out)


def print_list(rows: list[dict], out) -> None:
    table = [{"run": r["run_id"], "start": format_ns(r["start"], fraction=False),
              "livetime": "pending" if r["livetime_s"] is None else f"{r['livetime_s']:.1f} s",
              "built": ",".join(r["built"]) or "-"} for r in rows]
    print_table(table, ["run", "start", "livetime", "built"], out)


def print_info(info: dict, out) -> None:
    for key in ("run_id", "data_type", "data_kind", "lineage_hash", "compressor", "start", "end"):
        print(f"{key}: {info.get(key)}", file=out)
    chunks = [{"chunk": c["chunk_i"], "start": c["start"], "end": c["end"], "n": c["n"],
               "nbytes": c["nbytes"], "subruns": ",".join(c.get("subruns") or {}) or "-"}
              for c in info.get("chunks", [])]
    print_table(chunks, ["chunk", "start", "end", "n", "nbytes", "subruns"], out)


def print_mapping(mapping: dict, out, indent: int = 0) -> None:
    for key, value in mapping.items():
        if isinstance(value, dict):
            print(" " * indent + f"{key}:", file=out)
            print_mapping(value, out, indent + 2)
        else:
            print(" " * indent + f"{key}: {value}", file=out)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="superruns", description=__doc__)
    p.add_argument("--config", default=None, help="config.yaml (default: config/config.yaml or $SUPERRUNS_CONFIG)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    commands = p.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="runs and superruns: start, livetime, what is built")
    show = commands.add_parser("show", help="a superrun's definition, leaf runs and run metadata")
    show.add_argument("name")
    info = commands.add_parser("info", help="a data file's metadata and chunk table")
    info.add_argument("path")
    verify = commands.add_parser(
        "verify", help="check data files frame by frame (CRC32 of every frame, metadata "
        "checksum, row counts); exit status 1 if any is damaged")
    verify.add_argument("paths", nargs="+", metavar="PATH",
                        help="data files, or directories (every data file under them)")
    verify.add_argument("--deep", action="store_true",
                        help="also decompress every frame and check its rows' times")
    verify.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON for scripts")
    lock = commands.add_parser(
        "lock", help="freeze the runs each query/sample superrun resolves to in the lock file "
        "(config/superruns.lock.yaml); locked entries stay unless --update names them")
    lock.add_argument("--update", nargs="+", metavar="NAME", default=[],
                      help="re-resolve these superruns and lock the result (accept a change)")
    lock.add_argument("--prune", action="store_true",
                      help="drop entries of superruns that are no longer query/sample superruns")
    diff = commands.add_parser(
        "diff", help="how query/sample superruns would resolve now versus the lock; exit "
        "status 1 if any differs (changes nothing)")
    diff.add_argument("names", nargs="*", metavar="NAME", help="default: every locked one")
    add_campaign_commands(commands)
    add_recover_command(commands)
    return p


def lock_command(args, out) -> int:
    """``superruns lock`` and ``superruns diff``."""
    from ..definitions.lock import diff_report, lock_report

    project = Project.from_file(args.config) if args.config else Project.default()
    definitions = project.live_definitions()
    live = definitions.locked_superruns()
    lock = definitions.lock
    asked = list(args.update) if args.command == "lock" else list(args.names)
    for name in asked:
        definitions.get(name)   # an unknown name: UnknownSuperrunError
        if name not in live:
            raise SuperrunsError(f"superrun {name!r} has no query: or sample:, so it is not "
                                 "locked; fix: name a query or sample superrun")
    if args.command == "lock":
        lines = lock_report(lock, live, project.runs, update=asked, prune=args.prune)
        differs = False
    else:
        differs, lines = False, []
        for name in asked or sorted(live):
            d, ids = live[name]
            one_differs, one = diff_report(lock, d, ids, project.runs)
            differs, lines = differs or one_differs, lines + one
    print("\n".join(lines), file=out)
    return 1 if differs else 0


def add_campaign_commands(commands) -> None:
    """``status`` and ``clean``: a campaign's state, and old processing versions removed."""
    status = commands.add_parser(
        "status", help="per data type, how many runs and superruns are done, stale or missing "
        "for the current configuration (from file names and metadata only)")
    status.add_argument("name", nargs="?", help="a superrun (with everything it is built from) or run; "
                        "default: every run and superrun")
    status.add_argument("--data-type", "-t", action="append", dest="data_types", metavar="DATA_TYPE",
                        help="only these data types (repeat it); default: all")
    clean = commands.add_parser(
        "clean", help="remove stored processing versions other than the configuration's "
        "(files {run}/{data_type}-{lineage_hash} and their logs)")
    which = clean.add_mutually_exclusive_group(required=True)
    which.add_argument("--keep-current", action="store_true",
                       help="remove every version but the current configuration's")
    which.add_argument("--lineage", metavar="HASH", help="remove the files of this lineage hash")
    clean.add_argument("--dry-run", "-n", action="store_true", help="only list what would be removed")
    clean.add_argument("names", nargs="*", metavar="NAME",
                       help="only these runs and superruns (default: all the configuration defines)")
    migrate = commands.add_parser(
        "migrate", help="rename data files of the layout before versions ({run}/{data_type}) to "
        "{run}/{data_type}-{lineage_hash}, the lineage their metadata say, so they are used again")
    migrate.add_argument("--dry-run", "-n", action="store_true", help="only list what would be renamed")
    migrate.add_argument("names", nargs="*", metavar="NAME", help="only these runs and superruns")
    for command in (status, clean, migrate):
        command.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                             help="print JSON for scripts")


def campaign(args, out) -> int:
    """Run ``status`` or ``clean``."""
    project = Project.from_file(args.config) if args.config else Project.default()
    if args.command == "status":
        from ..stored.campaign_status import format_status, status

        result = status(project, args.name, args.data_types)
        lines = format_status(result)
    elif args.command == "migrate":
        from ..stored.versions import migrate

        result = migrate(project, run_ids=args.names or None, dry_run=args.dry_run)
        lines = migrate_lines(result)
    else:
        from ..stored.versions import clean

        result = clean(project, keep_current=args.keep_current, lineage=args.lineage,
                       run_ids=args.names or None, dry_run=args.dry_run)
        lines = clean_lines(result)
    if args.json:
        json.dump(result, out, indent=2, default=str)
        print(file=out)
    else:
        print("\n".join(lines), file=out)
    return 0


def migrate_lines(result: dict) -> list[str]:
    moved = result.get("would_move", result.get("moved"))
    verb = "would rename" if result["dry_run"] else "renamed"
    lines = [f"{verb} {m['from']} -> {m['to']}" + ("" if m["current"] else "  (another lineage than "
                                                    "the configuration's)") for m in moved]
    lines += [f"left   {f['path']}: {f['reason']}" for f in result["left"]]
    lines.append(f"{verb} {len(moved)} files, left {len(result['left'])}")
    return lines


def clean_lines(result: dict) -> list[str]:
    files = result.get("would_remove", result.get("removed"))
    verb = "would remove" if result["dry_run"] else "removed"
    lines = [f"{verb} {f['path']}  ({f['lineage_hash'] or 'no lineage in its name'}, {f['size']} bytes)"
             for f in files]
    lines.append(f"{verb} {len(files)} files, {result['bytes'] / 1e6:.1f} MB; the configuration's "
                 "current version is never removed")
    return lines


def print_verify(result: dict, out) -> None:
    from ..storage.verify import ADVICE

    for report in result["files"]:
        if report["ok"]:
            print(f"ok   {report['path']}: {report['chunks']} chunks, {report['frames']} frames, "
                  f"{report['rows']} rows", file=out)
        else:
            label = "NEW " if report["problem"] == "newer_format" else "BAD "
            print(f"{label} {report['path']}", file=out)
            for problem in report["problems"]:
                print(f"     {problem}", file=out)
    for path in result["leftovers"]:
        print(f"note {path}: temporary file of an interrupted write (its process is gone); "
              "safe to delete", file=out)
    for path in result.get("in_progress", []):
        print(f"note {path}: temporary file of a write under way (its process still runs); "
              "leave it", file=out)
    if result.get("lineages_checked") is None:
        print("note lineages not compared with a configuration (none found: give --config)", file=out)
    if result.get("other_versions"):
        print(f"note {result['other_versions']} files are other processing versions than the "
              "configuration's, kept side by side (superruns clean --keep-current --dry-run lists them)",
              file=out)
    if result["ok"]:
        print(f"{result['checked']} files checked, all intact", file=out)
        return
    by_problem = {}
    for report in result["files"]:
        if not report["ok"]:
            by_problem.setdefault(report["problem"] or "damaged", []).append(report["path"])
    for problem, paths in by_problem.items():
        shown = " ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
        print(f"{len(paths)} of {result['checked']} files {_PROBLEM_WORDS.get(problem, problem)}: "
              f"{shown}. {ADVICE.get(problem, ADVICE['damaged'])}", file=out)


_PROBLEM_WORDS = {"damaged": "are damaged", "misplaced": "are not what their place says",
                  "other_lineage": "are of another lineage than the configuration gives",
                  "newer_format": "are of a newer format version", "not_a_file": "are not regular files",
                  "missing": "do not exist"}


def optional_project(args) -> Project | None:
    """The project of ``--config``, else the default one if there is a config file, else None."""
    import os
    from pathlib import Path

    from ..project import DEFAULT_CONFIG

    if args.config:
        return Project.from_file(args.config)
    if os.environ.get("SUPERRUNS_CONFIG") or Path(DEFAULT_CONFIG).is_file():
        return Project.default()
    return None


def verify(args, out) -> int:
    from ..storage import verify_paths
    from ..storage.identity import check_verified_lineages

    project = optional_project(args)
    result = verify_paths(args.paths, deep=args.deep,
                          data_dirs=[project.data_dir] if project is not None else [])
    result["lineages_checked"] = None
    if project is not None:
        check_verified_lineages(result, project)
    if args.json:
        json.dump(result, out, indent=2, default=str)
        print(file=out)
    else:
        print_verify(result, out)
    return 0 if result["ok"] else 1


def inspect(args) -> dict | list:
    """What ``info``, ``list`` and ``show`` print."""
    if args.command == "info":
        return file_info(args.path, optional_project(args))
    project = Project.from_file(args.config) if args.config else Project.default()
    return list_rows(project) if args.command == "list" else show_superrun(project, args.name)


def print_result(args, result, out) -> None:
    if args.json:
        json.dump(result, out, indent=2, default=str)
        print(file=out)
    elif args.command == "list":
        print_list(result, out)
    elif args.command == "info":
        print_info(result, out)
    else:
        print_mapping(result, out)


def error_text(error: BaseException) -> str:
    """An expected error in words: an OSError with its file and what to do (never a bare
    errno); a SuperrunsError as it is."""
    if isinstance(error, OSError) and not isinstance(error, SuperrunsError):
        return os_error_message(error)
    return str(error)


def main(argv=None, out=None) -> int:
    """Run one command. Error policy (as in the jobs): an expected error (a SuperrunsError, or
    an OSError, which names its file) is printed as one line, exit status 1; any other
    exception is a bug and keeps its traceback."""
    out = out if out is not None else sys.stdout   # looked up per call: tests capture it
    args = parser().parse_args(argv)
    try:
        if args.command == "verify":
            return verify(args, out)
        if args.command in ("lock", "diff"):
            return lock_command(args, out)
        if args.command in ("status", "clean", "migrate"):
            return campaign(args, out)
        if args.command == "recover":
            return recover_command(args, out)
        result = inspect(args)
    except EXPECTED_ERRORS as error:
        print(f"superruns {args.command}: {error_text(error)}", file=sys.stderr)
        return 1
    print_result(args, result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
