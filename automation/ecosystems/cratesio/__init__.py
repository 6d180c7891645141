"""crates.io: the crate document's newest non-yanked version and its ``bin_names`` ->

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""
