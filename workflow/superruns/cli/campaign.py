"""``superruns status``, ``clean`` and ``migrate``: a campaign's state, and old processing
versions removed or renamed."""

from __future__ import annotations

from .common import add_json_option, print_json, project_of

__all__ = ["clean_lines", "migrate_lines", "register", "run_campaign"]


def register(commands) -> None:
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
        add_json_option(command)
        command.set_defaults(run=run_campaign)


def run_campaign(args, out) -> int:
    """Run ``status``, ``clean`` or ``migrate``."""
    project = project_of(args)
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
        print_json(result, out)
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
    lines += [f"left   {f['path']}: {f['reason']}" for f in result["left"]]
    lines.append(f"{verb} {len(files)} files, {result['bytes'] / 1e6:.1f} MB, left {len(result['left'])}; "
                 "the configuration's current version is never removed, nor a file superruns did "
                 "not identify as its own")
    return lines
