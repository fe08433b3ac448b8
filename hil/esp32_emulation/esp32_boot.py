# The emulated chip: what an ESP32 running MicroPython does at every reset, under the Unix port.
#
# hil/firmware_process.py starts ``micropython esp32_boot.py`` in the board's filesystem directory,
# with this directory first on the module path (the emulated machine, dht, network, ntptime and time)
# and HILSIM_HW naming the control directory (_esp32_hw.py). It runs boot.py then main.py, as the
# board's C runtime does, beside a thread that is the chip's hardware: the watchdog timer and the
# reset line. Either one stops the interpreter (a SIGINT to itself, the one way to break into a loop
# that never yields), and the process exits 75: the virtual board boots it again, and the next boot's
# machine.reset_cause() says why. No f-strings, no typing: this runs on MicroPython.

import os
import sys
import time

try:
    import _esp32_hw as hw
except ImportError:  # CPython, importing the package only to look at it (the layout tests): never run there
    from hil.esp32_emulation import _esp32_hw as hw
import _thread

BOOTED = [0]  # ticks_ms at boot, for the log lines' timestamps


def chip():
    # Every 50 ms: has the watchdog run out, or does the host pull the reset line?
    while hw.state["pending"] is None:
        time.sleep_ms(50)
        deadline = hw.state["wdt_deadline"]
        if deadline is not None and time.ticks_diff(time.ticks_ms(), deadline) > 0:
            hw.state["pending"] = "watchdog"
        else:
            cause = hw.read_text("reset_request")
            if cause:
                hw.remove("reset_request")
                hw.state["pending"] = cause
    while True:  # until the interpreter stops; again each second, in case a handler swallowed it
        os.system("(sleep 0.05; kill -INT $PPID) &")
        time.sleep(1)


def run(name):
    try:
        with open(name) as f:
            source = f.read()
    except OSError:
        return
    exec(compile(source, name, "exec"), {"__name__": "__main__", "__file__": name})


def main():
    BOOTED[0] = time.ticks_ms()
    sys.path.insert(1, "")  # the board's filesystem, after the emulated modules (as its flash is on a board)
    cause = hw.take_reset_cause()
    hw.rtc_load(cause == "power_on")
    _thread.start_new_thread(chip, ())
    try:
        run("boot.py")
        run("main.py")
    except KeyboardInterrupt:
        cause = hw.state["pending"]
        if cause is None:
            raise
        if cause == "watchdog":
            print("E (%d) task_wdt: Task watchdog got triggered." % time.ticks_diff(time.ticks_ms(), BOOTED[0]))
        hw.record_reset(cause)
        sys.exit(hw.RESTART_EXIT)


if __name__ == "__main__":
    main()
