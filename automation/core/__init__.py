"""What every part of the kit uses: atomic writes, time, HTTP, config, JSON reading, schemas,
layout, errors, reports, names, processes.
"""
