"""Homebrew casks: ``/api/cask/<token>.json`` -> ``app_bundle``
(``automation.ecosystems.cask.builder``).

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""
