"""Settings, read from the environment (variable names are the field names, upper-cased)."""

from __future__ import annotations

from servicekit import ConsumerSettings


class Settings(ConsumerSettings):
    port: int = 8002
    # Run the catch-up projections (the revenue) in this process. Every replica may: the
    # checkpoint makes that correct, not cheap (each batch is read and decoded by all, committed
    # by one). Off on all replicas but one, or on a replica of its own, to spare the others.
    run_projections: bool = True
