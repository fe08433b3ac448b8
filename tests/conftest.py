import pytest

from sim.runtime import SimRuntime
from system.asyncio_runtime import AsyncioRuntime


@pytest.fixture(params=["sim", "live"])
def rt(request):
    """The same behaviour suite runs on both runtimes."""
    if request.param == "sim":
        return SimRuntime(seed=1, start=1_700_000_000.0)
    return AsyncioRuntime(seed=1)
