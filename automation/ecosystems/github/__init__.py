"""GitHub releases: ``github:<owner>/<repo>`` -> ``github_archive`` / ``github_file`` steps.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""
