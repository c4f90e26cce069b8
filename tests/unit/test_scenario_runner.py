"""How many Molecule scenarios run at once follows the machine's cores."""

import pytest

from tests.scenarios import runner


@pytest.mark.parametrize("cores,parallel", [(None, 1), (1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (16, 8)])
def test_one_scenario_per_two_cores_and_at_least_one(cores, parallel):
    assert runner.parallel_default(cores) == parallel
