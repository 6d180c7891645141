"""Learning from failures: the failure index, blockers, gap analysis, requeue, reorder, backfill,
SLIs and the dashboard.
"""
