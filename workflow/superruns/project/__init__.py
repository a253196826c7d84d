"""One configuration: the config file checked and its paths resolved (:mod:`.config`), the
:class:`Project` tying it to its plugin registry, run registry, superrun definitions and data
(:mod:`.project`), and the current lineages of many runs at once (:mod:`.lineages`)."""

from .config import (
    DEFAULT_CONFIG,
    MODULE_CONFIG,
    PARSED_KEY,
    SNAKEMAKE_CONFIG,
    ConfigError,
    check_config_files,
    check_data_dir_writable,
    resolve_paths,
    validate_config,
)
from .project import OtherLineageError, Project, UnknownRunIdError, set_default_project

__all__ = ["DEFAULT_CONFIG", "MODULE_CONFIG", "PARSED_KEY", "SNAKEMAKE_CONFIG", "ConfigError", "OtherLineageError",
           "Project", "UnknownRunIdError", "check_config_files", "check_data_dir_writable",
           "resolve_paths", "set_default_project", "validate_config"]
