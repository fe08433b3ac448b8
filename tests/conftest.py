import os
import shutil

import pytest

from sim.kernel.runtime import SimRuntime
from system.adapters.asyncio_runtime import AsyncioRuntime

from processes import MOSQUITTO, free_port, start_server, stop_server
# HILSIM_REQUIRE_ALL=1 (set by .ci/run): any skipped test but a hardware one fails (see require_all.py).
from require_all import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401

PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"


# --hil-port and the dut fixtures come from the hilsim-dut plugin (hil/pytest_dut.py, a pytest11 entry point).


@pytest.fixture(params=["sim", "live"])
def rt(request):
    """The same behaviour suite runs on both runtimes."""
    if request.param == "sim":
        return SimRuntime(seed=1, start=1_700_000_000.0)
    return AsyncioRuntime(seed=1)


@pytest.fixture
def pushgateway(tmp_path):
    """A real Prometheus Pushgateway (Debian package) on a free loopback port; yields its base URL."""
    if not os.access(PUSHGATEWAY, os.X_OK):
        pytest.skip("Debian package prometheus-pushgateway not installed")
    port = free_port()
    proc = start_server([PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}",
                         f"--persistence.file={tmp_path / 'pushgateway.db'}"], port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture
def mosquitto(tmp_path):
    """A real Mosquitto (Debian package) on a free loopback port, anonymous, no persistence; yields its port."""
    if not os.access(MOSQUITTO, os.X_OK) or not shutil.which("mosquitto_pub"):
        pytest.skip("Debian package mosquitto (and mosquitto-clients) not installed")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = start_server([MOSQUITTO, "-c", str(conf)], port)
    yield port
    stop_server(proc)
