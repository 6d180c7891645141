"""The registry's data files: queue, recipes, constraints, failures and their codes, results,
metrics, manifests, staging, control and breaker state.
"""
