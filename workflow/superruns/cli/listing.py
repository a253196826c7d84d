"""``superruns list``, ``show`` and ``info``: runs and superruns, one definition, one file."""

from __future__ import annotations

from ..project import Project
from .common import add_json_option, optional_project, print_json, project_of
from .tables import human, print_mapping, print_table

__all__ = ["built_data_types", "file_info", "list_rows", "register", "show_superrun"]


def register(commands) -> None:
    listing = commands.add_parser("list", help="runs and superruns: start, livetime, what is built")
    show = commands.add_parser("show", help="a superrun's definition, leaf runs and run metadata")
    show.add_argument("name")
    info = commands.add_parser("info", help="a data file's metadata and chunk table")
    info.add_argument("path")
    for parser, run in ((listing, run_list), (show, run_show), (info, run_info)):
        add_json_option(parser)
        parser.set_defaults(run=run)


def built_data_types(project: Project, run_id: str) -> list[str]:
    """The data types of ``run_id`` stored in the configuration's lineage, in the registry's
    order (a type after those it depends on); other versions follow, shown with their lineage
    hash (``peaks-abcde12345``)."""
    from ..base.errors import SuperrunsError
    from ..storage.layout import stored_in_run

    order = {data_type: i for i, data_type in enumerate(project.registry)}
    current, other = [], []
    for (data_type, lineage), path in sorted(stored_in_run(project.data_dir, run_id).items()):
        try:
            is_current = data_type in order and lineage == project.lineage_hash(run_id, data_type)
        except SuperrunsError:       # e.g. per-run defaults of a run id that is not a number
            is_current = False
        (current if is_current else other).append(data_type if is_current else path.name)
    return sorted(current, key=order.__getitem__) + other


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
    from ..storage.identity import IdentityError, identity_of, identity_problem, rebuild_command
    from ..storage.layout import place_of

    data = DataFile(path)
    where = Path(path).absolute()
    if project is not None and where.parent.parent == project.data_dir.absolute():
        run_id, data_type, lineage = place_of(where)
        problem = identity_problem(identity_of(data), run_id, data_type, lineage)
        if problem:
            raise IdentityError(f"{path}: {problem}. Move it back to the place its metadata name (or "
                                f"aside) and rebuild this one (`{rebuild_command(run_id, data_type)}`); "
                                "`superruns info --json` on a copy elsewhere shows its metadata.")
    return dict(data.metadata)


def print_list(rows: list[dict], out) -> None:
    table = [{"run": r["run_id"], "start": human("start", r["start"]),
              "livetime": "pending" if r["livetime_s"] is None else human("livetime", r["livetime_s"]),
              "built": r["built"]} for r in rows]
    print_table(table, ["run", "start", "livetime", "built"], out, squeeze="built")


def print_info(info: dict, out) -> None:
    for key in ("run_id", "data_type", "data_kind", "lineage_hash", "compressor", "start", "end"):
        print(f"{key}: {human(key, info.get(key))}", file=out)
    chunks = [{"chunk": c["chunk_i"], "start": human("start", c["start"]), "end": human("end", c["end"]),
               "rows": c["n"], "size": human("nbytes", c["nbytes"]), "subruns": list(c.get("subruns") or {})}
              for c in info.get("chunks", [])]
    print_table(chunks, ["chunk", "start", "end", "rows", "size", "subruns"], out, squeeze="subruns")


def _print(args, result, out, words) -> int:
    if args.json:
        print_json(result, out)
    else:
        words(result, out)
    return 0


def run_list(args, out) -> int:
    return _print(args, list_rows(project_of(args)), out, print_list)


def run_show(args, out) -> int:
    return _print(args, show_superrun(project_of(args), args.name), out, print_mapping)


def run_info(args, out) -> int:
    return _print(args, file_info(args.path, optional_project(args)), out, print_info)

