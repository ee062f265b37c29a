"""The figures, one module per stage: each starts what it measures, runs its repetitions and
records its samples on the :class:`bench.session.Bench` it is given."""
