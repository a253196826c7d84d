"""Prepare an existing strax/straxen Context to load our stored superruns (imports strax).

::

    st = straxen.contexts.xenonnt_offline(...)      # any Context, its plugins unchanged
    serve_superruns(st, "config/config.yaml")      # adds SuperrunsFrontend, allows stored superruns
    st.get_array("_xams", "peak_basics")            # our superrun file, nothing computed

strax refuses every superrun of a data type whose plugin does not set ``allow_superrun``
("Plugin ... does not allowed superrun!"), before it asks any storage; no straxen plugin sets
it. Stored data need no computation, so :func:`serve_superruns` lets this one Context treat a
data type of a superrun as allowed exactly when the superruns frontend holds that superrun's
file for the Context's key (same lineage hash, same ``sub_run_spec``). Data that are not stored
keep strax's behaviour (refused, or computed for plugins that allow superruns), except data the
workflow builds (a data type of the project, of a run or superrun it knows) that no storage of
the Context holds and strax cannot make (this package's plugin stubs, a superrun of a plugin
that does not allow superruns): those are refused before strax reads anything, with the
``snakemake`` command that builds them (:class:`~superruns.straxio.frontend.NotBuiltError`).
Only this Context's plugin instances change: the plugin classes, and other Contexts, do not.
"""

from __future__ import annotations

import strax

from .frontend import NotBuiltError, SuperrunsFrontend, build_hint

__all__ = ["serve_superruns"]


def _stored(frontend: SuperrunsFrontend, key) -> bool:
    try:
        frontend.find(key)
    except (strax.DataNotAvailable, strax.DataCorrupted):
        return False
    return True


def serve_superruns(context: strax.Context, project=None, *, frontend: SuperrunsFrontend | None = None,
                    **frontend_options) -> SuperrunsFrontend:
    """Make ``context`` load the stored superruns of the workflow of ``project`` (a Project or
    its ``config.yaml``): put a :class:`SuperrunsFrontend` first in its storage (or use
    ``frontend``) and allow superruns of the data types that frontend holds for the key asked.
    Returns the frontend. Calling it twice on one Context keeps one frontend."""
    if frontend is None:
        frontend = next((sf for sf in context.storage if isinstance(sf, SuperrunsFrontend)), None)
    if frontend is None:
        frontend = SuperrunsFrontend(project, **frontend_options)
    if frontend not in context.storage:
        context.storage = [frontend] + list(context.storage)
    if getattr(context, "_superruns_frontend", None) is not None:
        context._superruns_frontend = frontend
        return frontend
    context._superruns_frontend = frontend
    original = context._get_plugins

    def _get_plugins(targets, run_id, chunk_number=None, **kwargs):
        plugins = original(targets, run_id, chunk_number=chunk_number, **kwargs)
        if not str(run_id).startswith("_") or chunk_number is not None:
            return plugins
        plugins = dict(plugins)
        for target in strax.to_str_tuple(targets):
            plugin = plugins.get(target)
            if plugin is None or plugin.allow_superrun:
                continue
            key = context.get_data_key(run_id, target, plugin.lineage)
            if _stored(context._superruns_frontend, key):
                allowed = object.__new__(type(plugin))  # a shallow copy for this call: the
                allowed.__dict__.update(plugin.__dict__)  # class and cached instances stay as they are
                allowed.allow_superrun = True
                plugins[target] = allowed
        return plugins

    context._get_plugins = _get_plugins
    original_components = context.get_components

    def get_components(run_id, targets=(), *args, **kwargs):
        refuse_unbuilt(context, context._superruns_frontend.project, run_id, targets)
        return original_components(run_id, targets, *args, **kwargs)

    context.get_components = get_components
    return frontend


def refuse_unbuilt(context: strax.Context, project, run_id, targets) -> None:
    """Raise :class:`NotBuiltError` for a target the workflow builds that is not stored in any
    of the Context's storage and that strax cannot make itself."""
    if project is None or not isinstance(run_id, str):
        return
    try:
        project.check_known(run_id)
    except KeyError:
        return                     # a run or superrun of strax's own (define_run, the RunDB)
    for target in strax.to_str_tuple(targets):
        if target not in project.registry:
            continue
        plugin = context._get_plugins((target,), run_id)[target]
        strax_can_make = not getattr(plugin, "superruns_stub", False) and (
            plugin.allow_superrun or not run_id.startswith("_"))
        if not strax_can_make and not context.is_stored(run_id, target):
            raise NotBuiltError(build_hint(project, run_id, target))
