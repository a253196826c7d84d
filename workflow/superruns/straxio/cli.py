"""``python -m superruns.straxio import|export ...`` (see docs/strax.md)."""

from __future__ import annotations

import argparse
import os
import sys

from .format import COMPRESSORS

__all__ = ["main"]


def main(argv=None) -> int:
    """``python -m superruns.straxio import|export ...`` (see docs/strax.md)."""
    parser = argparse.ArgumentParser(prog="python -m superruns.straxio",
                                     description="Import strax DataDirectories, export runs to them.")
    parser.add_argument("--config", default=os.environ.get("SUPERRUNS_CONFIG", "config/config.yaml"),
                        help="the workflow's config.yaml (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="strax folders -> {data_dir}/{run}/{data_type}; runs added to the registry")
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
    args = parser.parse_args(argv)

    from ..project import Project
    from .exporter import export_run
    from .importer import import_directory

    try:
        project = Project.from_file(args.config)
        if args.command == "import":
            runs = None
            if args.runs:
                runs = {}
                for item in args.runs:
                    new_id, _, source = item.partition("=")
                    parts = (source or new_id).split(":")
                    runs[new_id] = parts[0] if len(parts) == 1 else (parts[0], int(parts[1]), int(parts[2]))
            data_types = None
            if args.data_types:
                pairs = [item.partition("=") for item in args.data_types]
                data_types = ({dt: h for dt, _, h in pairs} if all(h for _, _, h in pairs)
                              else [dt for dt, _, _ in pairs])
            results = import_directory(args.strax_dir, project.data_dir, runs=runs, data_types=data_types,
                                       runs_file=project.config["runs"], overwrite=args.overwrite)
            for r in results:
                print(f"{'kept' if r.skipped else 'imported'} {r.run_id}/{r.data_type} "
                      f"({r.n_rows} rows, lineage {r.lineage_hash})")
        else:
            for folder in export_run(project, args.run_id, args.data_types, args.strax_dir,
                                     compressor=args.compressor, overwrite=args.overwrite):
                print(f"exported {folder}")
    except (ValueError, KeyError, OSError) as error:
        print(f"error: {error.args[0] if isinstance(error, KeyError) and error.args else error}", file=sys.stderr)
        return 1
    return 0

