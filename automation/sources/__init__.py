"""One adapter per upstream registry: URL builders, pure parsers of real responses, a fetch."""
