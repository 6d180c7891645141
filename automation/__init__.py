"""Deterministic batch pipeline that grows a tsuku-format recipe registry."""

from importlib import metadata


def _user_agent(version: str) -> str:
    """``registry-automation/<version> (+<url>)``, the URL from the package's metadata
    (``[project.urls]`` in pyproject.toml); without installed metadata, no URL."""
    try:
        urls = metadata.metadata("registry-automation").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    contact = next((url.split(",", 1)[1].strip() for url in urls if "," in url), None)
    return f"registry-automation/{version}" + (f" (+{contact})" if contact else "")


__version__ = "0.1.0"
USER_AGENT = _user_agent(__version__)
