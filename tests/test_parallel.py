"""Tasks on several cores: the same results, in task order, with one worker or two."""

from __future__ import annotations

import pytest

from sda.engine.parallel import child_seeds, run_tasks


def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_come_back_in_task_order(jobs: int) -> None:
    assert list(run_tasks(square, [(i,) for i in range(5)], jobs)) == [0, 1, 4, 9, 16]


def test_child_seeds_depend_on_the_seed_and_stream_only() -> None:
    first = [s.generate_state(1)[0] for s in child_seeds(7, 3, stream=1)]
    assert first == [s.generate_state(1)[0] for s in child_seeds(7, 3, stream=1)]
    assert first != [s.generate_state(1)[0] for s in child_seeds(7, 3, stream=2)]
    assert len(set(first)) == 3


def test_warmed_workers_serve_the_next_tasks() -> None:
    from sda.engine import parallel

    parallel.warm_workers(2)
    assert parallel._warming is not None  # started in the background, not waited for
    assert list(run_tasks(square, [(i,) for i in range(4)], 2)) == [0, 1, 4, 9]
    assert parallel._warming is None  # the tasks waited for the warm-up first
    parallel.warm_workers(1)
    assert parallel._warming is None  # one job: no worker to start
