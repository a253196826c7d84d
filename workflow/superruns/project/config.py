"""The workflow configuration: its schema check with defaults filled in, its paths made
absolute, and the checks of its files and data directory made before any job runs."""

from __future__ import annotations

from pathlib import Path

from ..base.errors import SuperrunsError
from ..base.schemas import first_error, load_schema, schema_validator

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "base" / "schemas"
DEFAULT_CONFIG = Path("config") / "config.yaml"
PATH_KEYS = ("data_dir", "runs", "dq_dir", "lock")
# Where the config of a Snakemake run comes from, for error messages.
SNAKEMAKE_CONFIG = f"{DEFAULT_CONFIG} (with any --configfile/--config given to snakemake)"
MODULE_CONFIG = "the config: given to the host workflow's `module` statement for superruns"
#: The key under which the Snakefile hands its jobs what it parsed (Project.inputs_fingerprint);
#: never part of a user's configuration.
PARSED_KEY = "_superruns_parsed"

__all__ = ["DEFAULT_CONFIG", "MODULE_CONFIG", "PARSED_KEY", "SNAKEMAKE_CONFIG", "ConfigError", "check_config_files",
           "check_data_dir_writable", "check_option_values", "check_options", "check_per_run_ids",
           "check_selections", "check_yaml_files", "resolve_paths", "validate_config"]


class ConfigError(SuperrunsError, ValueError):
    """The workflow configuration is invalid; the message names the file and the key."""


def validate_config(config: dict, source: str = "the configuration") -> dict:
    """Check ``config`` against the schema and return a copy with defaults filled in."""
    schema = load_schema("config.schema.json")
    error = first_error(schema_validator("config.schema.json"), config)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ConfigError(f"{source}: invalid value at '{where}': {error.message}. "
                          f"Fix it following {SCHEMA_DIR / 'config.schema.json'}.")
    filled = dict(config)
    for key, spec in schema["properties"].items():
        if key not in filled and "default" in spec:
            filled[key] = spec["default"]
    storage_spec = schema["properties"]["storage"]["properties"]
    filled["storage"] = {key: spec["default"] for key, spec in storage_spec.items()} | dict(
        filled.get("storage") or {})
    return filled


def resolve_paths(config: dict, base_dir: Path) -> dict:
    """Make every path in ``config`` absolute, relative to ``base_dir`` (Snakemake's working
    directory), so that the Project does not depend on the current directory later on."""
    resolved = dict(config)
    for key in PATH_KEYS:
        resolved[key] = str((base_dir / config[key]).resolve())
    resolved["superruns"] = [str((base_dir / p).resolve()) for p in config["superruns"]]
    return resolved


def check_options(registry, options: dict, source: str) -> None:
    """Refuse option overrides that no plugin declares (a typo would silently change nothing)."""
    import difflib

    from ..model.options import unknown_options

    unknown = unknown_options(registry, options)
    if unknown:
        known = sorted({option.name for dt in registry for option in registry[dt].options})
        hints = [f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)
                 for name in unknown for close in [difflib.get_close_matches(name, known, n=1)]]
        raise ConfigError(f"{source}: options: unknown option {', '.join(hints)}: no plugin declares "
                          f"it; fix the spelling or remove it (known options: {', '.join(known)})")


def check_option_values(registry, options: dict, source: str) -> None:
    """Refuse option overrides (typed as :meth:`Project.options` types them) of a kind or range
    their option does not take: a job would trip over them, or make nonsense."""
    from ..model.options import override_problems

    problems = override_problems(registry, options)
    if problems:
        helps = {option.name: option.help for dt in registry for option in registry[dt].options}
        shown = "; ".join(f"{name}: {problem}" + (f" ({helps[name]})" if helps.get(name) else "")
                          for name, problem in problems)
        raise ConfigError(f"{source}: options: {shown}; fix: give each a value its option takes")


def check_per_run_ids(registry, options: dict, runs, source: str) -> None:
    """Refuse runs that options with per-run defaults cannot place: a run id that is not a
    number (per-run defaults order runs by number, as strax does) or a run before the first
    entry. Every job of such a run would stop; here it stops the parse, naming both files."""
    from ..model.options import OptionError, per_run_spec, resolve_option

    for option in {o.name: o for dt in registry for o in registry[dt].options}.values():
        if per_run_spec(option, options) is None:
            continue
        for run_id in runs:
            try:
                resolve_option(option, run_id, options)
            except OptionError as error:
                raise ConfigError(f"{runs.source}: run {run_id!r}: {error}; fix: give the run a numeric id at "
                                  f"or after the first entry, or give {option.name!r} one value for every "
                                  f"run in {source} (options: {{{option.name}: VALUE}})") from None


def check_selections(selections: dict, project, source: str) -> None:
    """Refuse selections whose name is not a name (it names the file
    ``{data_dir}/selections/{name}.npy``), or whose source is not a run or superrun the
    configuration defines (``../../x`` would be read through a path), or whose data type no
    plugin provides."""
    from ..base.names import run_id_problem, subrun_problem

    for name, spec in (selections or {}).items():
        where = f"{source}: selections: {name!r}"
        problem = run_id_problem(name)
        if problem:
            raise ConfigError(f"{where}: not a selection name ({problem.replace('run id', 'name')}); "
                              "fix: a name of letters, digits, '_' and '.'")
        src = spec["source"]
        known = src in (project.definitions if project.is_superrun(src) else project.runs)
        if subrun_problem(src) or not known:
            raise ConfigError(f"{where}: source {src!r} is not a run or superrun this configuration "
                              f"defines; fix: name one of {project.config['runs']} or of the definitions")
        data_type = spec.get("data_type", "event_info")
        if data_type not in project.registry:
            raise ConfigError(f"{where}: data_type {data_type!r}: no plugin provides it; fix: one of "
                              f"{', '.join(sorted(project.registry))}")


def _schema_default(section: str, key: str):
    return load_schema("config.schema.json")["properties"][section]["properties"][key]["default"]


def check_config_files(paths) -> None:
    """Read Snakemake's config files again with the package's YAML loader: Snakemake's keeps
    the last of two equal keys without a word, ours refuses them (naming file and line)."""
    from ..base.yamlio import yaml_load

    for path in paths:
        yaml_load(path, ConfigError)   # refuses a FIFO or other non-regular file itself


def check_yaml_files(paths) -> None:
    """Refuse at once configuration files that exist but are not regular files (a FIFO would
    make the YAML reader wait forever)."""
    from ..base.files import NotARegularFile, check_regular

    for path in map(Path, paths):
        if path.exists():
            try:
                check_regular(path, "a YAML file")
            except NotARegularFile as error:
                raise ConfigError(str(error)) from None


def check_data_dir_writable(data_dir) -> None:
    """Stop the workflow with one line if ``data_dir`` cannot be written (read-only file
    system, permissions): the Snakefile's ``onstart:`` calls it before any job runs."""
    import sys

    from ..base.files import writable_problem

    problem = writable_problem(data_dir)
    if problem:
        print(f"superruns: the data directory cannot be written: {problem}", file=sys.stderr)
        raise SystemExit(1)


# The process's default Project (see set_default_project); a list, so nothing rebinds a global.
