"""Capped exponential backoff with jitter, for retry loops that wait on something external."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``next()`` returns a delay drawn from [c/2, c] where c = min(cap, base * 2**attempt).

    The jitter spreads replicas that failed together so that they do not retry together
    (the thundering herd after Redis or a dependency comes back).
    """

    base: float = 0.1
    cap: float = 5.0
    attempt: int = field(default=0, init=False)

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempt)
        self.attempt = min(self.attempt + 1, 32)  # 2**32 * base is far past any cap
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0
