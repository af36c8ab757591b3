"""The service around the pure domain: application, adapters and entry points."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("learner-records")
except PackageNotFoundError:  # pragma: no cover - run from a tree that was never installed
    __version__ = "0.0.0"
