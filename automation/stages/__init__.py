"""The pipeline's stages: seed, batch selection, generate, validate (local and matrix), merge,
rollback, and the pipeline that runs them in turn.
"""
