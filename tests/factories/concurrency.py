"""Running workers at the same moment, for tests that race real threads against a real database."""

from __future__ import annotations

import threading
from collections.abc import Callable


def race(workers: list[Callable[[], None]]) -> None:
    """Start every worker at once (behind a barrier), wait for all, re-raise the first error."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
