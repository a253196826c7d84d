"""The bridge to strax (docs/strax.md), one module per concern.

=================  ===============================================================  ============
module             what                                                             needs strax
=================  ===============================================================  ============
``frontend``       ``SuperrunsFrontend``: a strax Context loads our runs and        yes
                   superruns; ``plugin_stubs`` for this package's own data types
``contexts``       ``serve_superruns``: a (straxen) Context loads stored superruns      yes
``external``       ``strax: {python: PATH}``: strax work in another environment     no
``producer``       strax Contexts make subrun data types (rule ``strax_produce``)   yes
``importer``       strax DataDirectory folders -> our files, runs -> run registry   no
``inplace``        the strax folders ``strax.in_place`` types are read from         no
``folders``        ``StraxFolderFile``: a strax folder read like one of our files   no
``rundb``          ``context_runs``: the run registry from a strax Context's run   no (there)
                   documents, cached; ``refresh_runs``
``exporter``       our files -> strax DataDirectory folders and run documents       no
``registry``       ``StraxDataType``: strax-made and imported types in a registry   no
``provider``       ``plugins(project)``: the provider the ``strax:`` section names    no
``format``         strax's on-disk format (codecs, folders, run documents)          no
``cli``            ``superruns import|export|runs`` (an entry point of the CLI)     no
=================  ===============================================================  ============

This package sits above the core: nothing outside it imports it (tests/unit/test_architecture.py).
Importing this package never imports strax; the names below load their module on first use.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "serve_superruns": "contexts",
    "SuperrunsFrontend": "frontend", "SuperrunsBackend": "frontend", "plugin_stubs": "frontend",
    "make_context": "producer", "produce": "producer", "strax_data_types": "producer",
    "import_directory": "importer", "add_runs_to_registry": "importer",
    "InPlaceIndex": "inplace", "StraxFolderFile": "folders",
    "context_runs": "rundb", "refresh_runs": "rundb",
    "export_run": "exporter", "export_file": "exporter",
    "StraxDataType": "registry", "produced_data_types": "registry", "plugins": "provider",
}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
