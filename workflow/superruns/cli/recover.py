"""``superruns recover NAME``: what a superrun still needs, per data type, with the livetime
of each part, and a target list Snakemake can run (:mod:`superruns.stored.recovery`)."""

from __future__ import annotations

from .common import add_json_option, print_json, project_of

__all__ = ["register", "run_recover"]


def register(commands) -> None:
    recover = commands.add_parser(
        "recover", help="per data type, the parts of a superrun (its leaf runs and the superruns it is made "
        "of) that are not built, failed or stale, with the livetime each carries; writes the files to "
        "make as a target list (snakemake --cores all $(cat FILE))")
    recover.add_argument("name", help="a superrun (or run)")
    recover.add_argument("--data-type", "-t", action="append", dest="data_types", metavar="DATA_TYPE",
                         help="only these data types (repeat it); default: all")
    recover.add_argument("--targets", metavar="FILE", default=None,
                         help="where to write the target list (default: {data_dir}/logs/recover/NAME.targets)")
    add_json_option(recover)
    recover.set_defaults(run=run_recover)


def run_recover(args, out) -> int:
    """Print the report and write the targets; exit status 1 while anything is left to make."""
    from ..stored.recovery import format_recover, recover, write_targets

    project = project_of(args)
    result = recover(project, args.name, args.data_types)
    write_targets(project, result, args.targets)
    if args.json:
        print_json(result, out)
    else:
        print("\n".join(format_recover(result)), file=out)
    return 1 if result["targets"] else 0
