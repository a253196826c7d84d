"""The seam every layer is handed: what modules below the project need of a
:class:`superruns.project.Project`, as a :class:`typing.Protocol`.

The project sits above the model, definitions, storage and build layers (it ties them
together), so they cannot import it; they are handed one and type it with :class:`ProjectView`
instead. ``Project`` satisfies it structurally (tests/unit/test_architecture.py checks that
every member is there); layers above the project import ``Project`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:      # names for the annotations only: plugins and runs import this module
    from .plugins import Registry
    from .runs import RunRegistry

__all__ = ["DefinitionsView", "ProjectView"]


@runtime_checkable
class DefinitionsView(Protocol):
    """What the layers below the project read of the superrun definitions
    (:class:`superruns.definitions.Definitions`): what each superrun holds, resolved and
    flattened, and its run document."""

    @property
    def names(self) -> list[str]: ...

    def __contains__(self, name: object) -> bool: ...

    def flat(self, name: str) -> Any: ...

    def segments(self, name: str) -> Sequence[Any]: ...

    def direct_subruns(self, name: str) -> list[str]: ...

    def run_metadata(self, name: str) -> dict: ...


@runtime_checkable
class ProjectView(Protocol):
    """One configuration as the model, definitions, storage and build layers see it."""

    config: dict
    base_dir: Path
    data_dir: Path
    source: str

    @property
    def registry(self) -> Registry: ...

    @property
    def runs(self) -> RunRegistry: ...

    @property
    def definitions(self) -> DefinitionsView: ...

    @property
    def options(self) -> dict: ...

    @property
    def storage(self) -> dict: ...

    def is_superrun(self, run_id: str) -> bool: ...

    def check_known(self, run_id: str) -> None: ...

    def path(self, run_id: str, data_type: str, lineage_hash: str | None = None) -> Path: ...

    def stored_versions(self, run_id: str, data_type: str) -> dict[str, Path]: ...

    def lineage(self, run_id: str, data_type: str) -> dict: ...

    def lineage_hash(self, run_id: str, data_type: str) -> str: ...

    def per_run_options(self, data_type: str) -> set[str]: ...

    def resolved_options(self, run_id: str, data_type: str) -> dict: ...

    def run_metadata(self, run_id: str) -> dict: ...
