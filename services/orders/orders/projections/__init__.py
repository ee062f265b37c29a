"""Beyond the pattern: what else orders keeps from payments' state stream, and its rebuilds.

- ``revenue.py``: revenue per currency per day, a catch-up projection (eventkit.projection)
- ``registry.py``: the projections by name and their rebuild (``python -m orders projections``)
- ``cache_rebuild.py``: the copy of payments rebuilt aside, then switched to
  (``python -m orders rebuild``)

The pattern itself (keep the newest copy of each payment, settle orders from the copies) is in
domain.py, handlers.py and adapters.py, one level up.
"""
