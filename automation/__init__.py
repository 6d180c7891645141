"""Deterministic batch pipeline that grows a tsuku-format recipe registry."""

__version__ = "0.1.0"
USER_AGENT = f"registry-automation/{__version__} (+https://github.com/tsukumogami/tsuku)"
