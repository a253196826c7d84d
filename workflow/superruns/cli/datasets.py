"""``superruns lock`` and ``diff``: the runs query and sample superruns resolve to, frozen."""

from __future__ import annotations

from ..base.errors import SuperrunsError
from .common import project_of

__all__ = ["register", "run_lock"]


def register(commands) -> None:
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
    for command in (lock, diff):
        command.set_defaults(run=run_lock)


def run_lock(args, out) -> int:
    """``superruns lock`` and ``superruns diff``."""
    from ..definitions.lock import diff_report, lock_report

    project = project_of(args)
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
