"""``superruns verify``: data files checked frame by frame."""

from __future__ import annotations

from .common import add_json_option, optional_project, print_json

__all__ = ["register", "run_verify"]


def register(commands) -> None:
    verify = commands.add_parser(
        "verify", help="check data files frame by frame (CRC32 of every frame, metadata "
        "checksum, row counts); exit status 1 if any is damaged")
    verify.add_argument("paths", nargs="+", metavar="PATH",
                        help="data files, or directories (every data file under them)")
    verify.add_argument("--deep", action="store_true",
                        help="also decompress every frame and check its rows' times")
    add_json_option(verify)
    verify.set_defaults(run=run_verify)


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
    for stale in result.get("stale", []):
        print(f"note {stale['path']}: stale ({'; '.join(stale['reasons'])}): not damaged; rebuild it "
              f"with `{stale['rebuild']}`", file=out)
    if result.get("other_versions"):
        print(f"note {result['other_versions']} files are other processing versions than the "
              "configuration's, kept side by side (superruns clean --keep-current --dry-run lists them)",
              file=out)
    for folder in result.get("unreadable", []):
        print(f"BAD  {folder['path']}: could not be read ({folder['reason']}); its files were not checked",
              file=out)
    if result["ok"]:
        print(f"{result['checked']} files checked, all intact", file=out)
        return
    if result.get("unreadable"):
        print(f"{len(result['unreadable'])} folders could not be read: not all files were checked. "
              f"{ADVICE['unreadable']}", file=out)
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


def run_verify(args, out) -> int:
    from ..storage import verify_paths
    from ..storage.freshness import check_verified

    project = optional_project(args)
    result = verify_paths(args.paths, deep=args.deep,
                          data_dirs=[project.data_dir] if project is not None else [])
    result["lineages_checked"] = None
    if project is not None:
        check_verified(result, project)
    if args.json:
        print_json(result, out)
    else:
        print_verify(result, out)
    return 0 if result["ok"] else 1
