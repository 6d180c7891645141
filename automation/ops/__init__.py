"""Operating a registry: check-data, drift, queue maintenance."""
