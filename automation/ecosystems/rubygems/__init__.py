"""RubyGems: the gem document plus the ``.gem``'s gemspec ``executables`` -> ``gem_install``.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""
