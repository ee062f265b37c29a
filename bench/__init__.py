"""``python -m bench`` (``make bench``): the system's figures beside baselines from the same run.

Everything runs as real processes on this machine: a private ``redis-server`` on a free port,
the services started with ``python -m <service>``, ``wrk`` for HTTP load. See
docs/benchmarks.md for what each figure measures and how to read it.
"""
