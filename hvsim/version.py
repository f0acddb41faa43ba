"""hvsim's version, from the installed package's metadata (pyproject.toml's)."""

from __future__ import annotations


def installed_version() -> str:
    """hvsim's version from the installed package's metadata, or "unknown" when hvsim
    runs from a folder it was not installed from."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hvsim")
    except PackageNotFoundError:
        return "unknown"
