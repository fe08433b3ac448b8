"""require_all: with HILSIM_REQUIRE_ALL=1 any test that skips fails, unless it is marked ``hardware``, so CI cannot
lose a layer or a test quietly."""

import pytest

pytest_plugins = ["pytester"]

INI = """
[pytest]
markers =
    live: real servers
    micropython: the MicroPython Unix port
    hardware: a real board
"""

# What the live tests do when a Debian program is missing: skip in the test, in a fixture, or by a mark.
LAYERS = """
import pytest

@pytest.fixture
def mosquitto():
    pytest.skip("Debian package mosquitto not installed")

@pytest.mark.live
def test_live_with_a_missing_server(mosquitto):
    pass

@pytest.mark.live
def test_live_skipping_itself():
    pytest.skip("mosquitto_pub not installed")

@pytest.mark.micropython
@pytest.mark.skipif(True, reason="no micropython command")
def test_under_micropython():
    pass

@pytest.mark.live
def test_live_that_runs():
    pass

def test_an_ordinary_skip():
    pytest.skip("not on this platform")

def test_a_library_too_old():
    pytest.importorskip("pytest", minversion="999")

@pytest.mark.hardware
def test_on_a_real_board():
    pytest.skip("no --hil-port given")

@pytest.mark.live
@pytest.mark.xfail(reason="known broker bug", strict=True)
def test_expected_to_fail():
    assert False
"""


# The plugin is already imported by our conftest: no assertion rewriting for it, as intended.
PLUGIN = ("-p", "require_all", "-W", "ignore::pytest.PytestAssertRewriteWarning")


@pytest.fixture
def layers(pytester):
    pytester.makeini(INI)
    pytester.makepyfile(test_layers=LAYERS)
    return pytester


def test_without_the_variable_skips_stay_skips(layers, monkeypatch):
    monkeypatch.delenv("HILSIM_REQUIRE_ALL", raising=False)
    layers.runpytest(*PLUGIN).assert_outcomes(passed=1, skipped=6, xfailed=1)


def test_with_the_variable_any_skip_but_a_hardware_one_fails_with_its_reason(layers, monkeypatch):
    monkeypatch.setenv("HILSIM_REQUIRE_ALL", "1")
    result = layers.runpytest(*PLUGIN, "-rfEs")
    # A skip while setting up (a fixture, a skipif mark) fails as an error; the hardware skip and the xfail stay.
    result.assert_outcomes(passed=1, failed=3, errors=2, skipped=1, xfailed=1)
    out = result.stdout.str()
    for reason, marker in [("Debian package mosquitto not installed", "live"), ("mosquitto_pub not installed", "live"),
                           ("no micropython command", "micropython"), ("not on this platform", "unmarked"),
                           ("module 'pytest' has __version__", "unmarked")]:
        assert f"HILSIM_REQUIRE_ALL=1: this {marker} test may not be skipped; install what it needs. " \
               f"Skipped: {reason}" in out
    result.stdout.fnmatch_lines(["SKIPPED*test_layers.py:*no --hil-port given"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_with_the_variable_a_test_file_skipped_while_collected_is_an_error(pytester, monkeypatch):
    pytester.makepyfile(test_gone="import pytest\npytest.importorskip('no_such_mqtt_library')\n")
    monkeypatch.delenv("HILSIM_REQUIRE_ALL", raising=False)
    pytester.runpytest(*PLUGIN).assert_outcomes(skipped=1)
    monkeypatch.setenv("HILSIM_REQUIRE_ALL", "1")
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*a whole test file may not be skipped*no_such_mqtt_library*"])
