"""superruns: group strax-style detector runs into stored, rechunked superruns.

    import superruns
    events = superruns.load("_sr1_v0.2", "event_info")
    peaks = superruns.load("_minbias_lowE", ["peaks", "peak_basics"], time_range=(t0, t1))

Each function takes an optional ``project`` (a :class:`superruns.project.Project`); without
one it uses ``config/config.yaml`` of the working directory, or ``$SUPERRUNS_CONFIG``.
Imports are lazy so that ``import superruns`` (done by the Snakefile) stays cheap.
"""

from .base.version import __version__

__all__ = ["__version__", "load", "iter_chunks", "run_metadata", "define_run", "select_runs", "is_stored", "make",
           "status", "Project"]


def _project(project):
    from .project import Project

    return project if project is not None else Project.default()


def load(run_id, data_types, time_range=None, *, lineage="current", as_frame=False, allow_stale=False,
         project=None):
    """Rows of ``data_types`` (one, or several of one kind merged) of a run or superrun, or of
    a list of them (concatenated in that order, with a first field ``run_id``, as strax does).

    ``time_range``: ``(start, end)``, each int ns, an ISO-8601 time or None (open end).
    ``lineage``: ``"current"`` (what the configuration gives: data of another lineage are
    refused), ``"any"``, or a lineage hash: one processing version of those kept side by side
    (see :mod:`superruns.storage.identity`). A file of the current lineage made from another
    definition or registry span than the configuration's now is stale: refused, naming the
    command that rebuilds it, unless ``allow_stale`` (:mod:`superruns.storage.freshness`).
    ``as_frame``: a pandas DataFrame (pandas must be installed)."""
    from .stored import loading

    return loading.load(_project(project), run_id, data_types, time_range=time_range, lineage=lineage,
                        as_frame=as_frame, allow_stale=allow_stale)


def is_stored(run_id, data_type, *, lineage="current", allow_stale=False, project=None):
    """Whether ``run_id``'s ``data_type`` is stored in ``lineage`` (default: the
    configuration's, and current: see :func:`load`; ``"any"``: any version); from the file's
    name and metadata."""
    from .stored import loading

    return loading.is_stored(_project(project), run_id, data_type, lineage, allow_stale)


def make(names, data_types, *, cores=1, project=None, progress=True, snakemake_args=(), snakefile=None):
    """Build what is missing or stale of ``data_types`` of ``names`` (runs or superruns, one
    or a list) through Snakemake, with a progress bar; needs Snakemake (``superruns[workflow]``).
    Returns the files (the current lineage's). See :mod:`superruns.orchestration.campaign`."""
    from .orchestration import campaign

    return campaign.make(_project(project), names, data_types, cores=cores, progress=progress,
                         snakemake_args=snakemake_args, snakefile=snakefile)


def status(name=None, data_types=None, *, as_frame=None, project=None):
    """Per data type, how many runs and superruns are done, stale or missing for the current
    configuration (all, or those ``name`` is built from): one row per group (``runs``,
    ``superruns``) and data type with ``group, data_type, done, stale, missing``. A pandas
    DataFrame when pandas is installed (``as_frame=None``), else a list of dicts;
    ``as_frame=True``/``False`` asks for one. See :mod:`superruns.stored.campaign_status`."""
    from .stored import campaign_status  # not a module named `status`: it would replace this function

    result = campaign_status.status(_project(project), name, data_types)
    rows = [{"group": group, "data_type": data_type, **counts}
            for group in ("runs", "superruns") for data_type, counts in result[group].items()]
    return _rows(rows, ["group", "data_type", *campaign_status.STATES], as_frame)


def _rows(rows: list, columns: list, as_frame):
    """``rows`` (dicts) as a pandas DataFrame of ``columns`` (``as_frame`` None: when pandas is
    installed), else as they are."""
    if as_frame is False:
        return rows
    try:
        import pandas
    except ImportError:
        if as_frame:
            from .base.errors import SuperrunsError

            raise SuperrunsError("as_frame=True needs pandas, which is not installed: pip install "
                                 "pandas (or as_frame=False: a list of dicts).") from None
        return rows
    return pandas.DataFrame(rows, columns=columns)


def iter_chunks(run_id, data_types, time_range=None, *, lineage="current", allow_stale=False, project=None):
    """Rows chunk by chunk, as stored (arguments as for :func:`load`)."""
    from .stored import loading

    return loading.iter_chunks(_project(project), run_id, data_types, time_range=time_range,
                               lineage=lineage, allow_stale=allow_stale)


def run_metadata(run_id, *, project=None):
    """The run document of a run or superrun; needs no data to be built."""
    return _project(project).run_metadata(run_id)


def select_runs(*, as_frame=None, project=None, **query):
    """The registry's runs matching ``query`` (the keys of a definition's ``query:``: mode,
    source, tags, exclude_tags, start, end, dq), in time order: name, start, end (int ns),
    mode, source, tags and livetime (s). A pandas DataFrame as strax's ``select_runs`` gives
    when pandas is installed (``as_frame=None``), else a list of dicts; ``as_frame=True``/
    ``False`` asks for one.

        superruns.select_runs(mode="background", tags=["sr1"], dq={"version": "v1", "require": ["tpc"]})
    """
    from .definitions.dq import load_dq
    from .definitions.query import select_runs as select

    project = _project(project)
    dq = query.get("dq")
    version = dq.get("version") if isinstance(dq, dict) else None
    rows = select(project.runs, load_dq(project.config["dq_dir"], version) if version else None, **query)
    return _rows(rows, ["name", "start", "end", "mode", "source", "tags", "livetime"], as_frame)


def define_run(name, data, *, from_run=None, pad_ns=0, description=None, overwrite=False, project=None):
    """Define superrun ``name`` from a list of runs, a dict of time ranges, or an event array,
    and write it to ``config/superruns.d/{name}.yaml`` (never over a hand-written file)."""
    from .definitions import define_run as write_definition

    project = _project(project)
    # The first directory the configuration reads; without one, the default, which
    # write_definition refuses (a superrun there would stay unknown).
    directory = next((p for p in project.config["superruns"] if not p.endswith((".yaml", ".yml"))),
                     str(project.base_dir / "config" / "superruns.d"))
    return write_definition(name, data, directory=directory, runs=project.runs,
                            definitions=project.definitions, from_run=from_run,
                            pad_ns=pad_ns, description=description, overwrite=overwrite)


def __getattr__(name):
    if name == "Project":
        from .project import Project

        return Project
    raise AttributeError(f"module 'superruns' has no attribute {name!r}")
