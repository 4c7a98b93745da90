"""Tasks on several cores: results in task order, and nothing left running when the caller fails."""

from __future__ import annotations

import pytest

from sda.engine.parallel import run_tasks, started_tasks


def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("jobs", [1, 2])
def test_started_tasks_give_results_in_task_order(jobs: int) -> None:
    with started_tasks(square, [(i,) for i in range(5)], jobs) as results:
        assert list(results) == [0, 1, 4, 9, 16]
    assert list(run_tasks(square, [(3,), (4,)], jobs)) == [9, 16]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failure_in_the_block_leaves_no_task_behind(jobs: int) -> None:
    with pytest.raises(RuntimeError, match="writer failed"), started_tasks(square, [(2,), (3,)], jobs) as results:
        msg = "writer failed"
        raise RuntimeError(msg)
    assert list(results) == []  # drained on the way out: read, not left to the garbage collector
