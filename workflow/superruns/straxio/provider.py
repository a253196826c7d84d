"""The strax bridge as a plugin provider: the data types of the config's ``strax:`` section.

The config schema names :func:`plugins` (``superruns.straxio:plugins``) as the default
``strax.provider``, so a project with a ``strax:`` section collects these entries through the
same interface as any ``plugins:`` reference (:func:`superruns.model.plugins.plugins_of`); the core
never imports this package. strax itself is imported only when ``strax.data_types`` is set.
"""

from __future__ import annotations

from .inplace import InPlaceIndex
from .registry import StraxBridgeError, StraxDataType, imported_data_type, in_place_data_type

__all__ = ["plugins"]


def plugins(project) -> list[StraxDataType]:
    """The imported data types (``strax.imported``, declared from their files), those read in
    place (``strax.in_place`` from the folders of ``strax.directories``), then those a strax
    Context makes (``strax.context: module:function`` and ``strax.data_types``)."""
    spec = project.config.get("strax") or {}
    imported = list(spec.get("imported", [])) + list(spec.get("in_place", []))
    both = set(spec.get("imported", [])) & set(spec.get("in_place", []))
    if both:
        raise StraxBridgeError(f"strax: {', '.join(sorted(both))} listed in both imported and in_place; a data "
                               "type is either imported (copied) or read in place: keep it in one list")
    found = [imported_data_type(project, data_type) for data_type in spec.get("imported", [])]
    if spec.get("in_place"):
        index = InPlaceIndex([project.base_dir / d for d in spec.get("directories", [])])
        found += [in_place_data_type(project, data_type, index) for data_type in spec["in_place"]]
    if spec.get("data_types"):
        if not spec.get("context"):
            raise StraxBridgeError("strax.data_types needs strax.context: 'module:function' returning the "
                                   "strax.Context that makes them")
        from .external import declare, interpreter

        python = interpreter(project.config, project.base_dir)
        if python is not None:                      # strax lives in another environment
            return found + declare(project, python, known=set(imported))
        from .producer import strax_data_types  # imports strax: only when configured

        found += strax_data_types(project, spec, known=set(imported))
    return found
