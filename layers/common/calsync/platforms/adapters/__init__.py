"""One module per booking platform, each defining ``PLATFORM`` (a ``calsync.platforms.base.Platform``).

Modules whose names start with ``_`` hold what several adapters share (a scheme family, a payload format).
"""
