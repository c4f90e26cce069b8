"""Every Molecule scenario under molecule/ passes its full `molecule test` sequence."""

import pytest

from tests.scenarios import runner


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.scenario(n), id=n) for n in runner.scenarios()]
)
def test_scenario(name):
    returncode, seconds, log = runner.result(name)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-120:])
    assert returncode == 0, f"molecule test -s {name} failed after {seconds:.0f}s (log {log}):\n{tail}"
