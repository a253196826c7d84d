"""The package version, in a module of its own: modules that record it in files import it from
here, not from the package's ``__init__`` (which sits above them: it imports the project)."""

__version__ = "0.1.0"
