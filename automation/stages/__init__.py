"""The pipeline's stages: seed, generate, validate (local and matrix), merge, rollback, and the
pipeline that runs them in turn.
"""
