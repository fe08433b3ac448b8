# The emulated chip's side of the control channel, shared by the emulated ESP32 modules.
#
# MicroPython only (run under the Unix port by hil/esp32_emulation/esp32_boot.py). The host
# (hil/esp32_emulation/__init__.py, Esp32Hardware) drives the hardware through files in one
# directory, named by the HILSIM_HW environment variable:
#   control.json   levels the host sets: wifi (AP up, ssid, password, rssi, ip), dht (pin, values,
#                  fault), ntp (offset of the server's clock from the host's, fail)
#   reset_request  a reset the host asks for (EN pulse, brown-out): its cause; taken by the chip
#   hang           while present, the DHT22 read never returns (a stuck bus); a reset clears it
#   reset_cause    written by the chip as it resets (soft, watchdog, ...) with its power session (HILSIM_POWER,
#                  the virtual board's process), read at the next boot: from another session it was a power-off
#   boot_cause     this boot's cause, as the boot took it, for machine.reset_cause() at the REPL
# No f-strings, no typing: this runs on MicroPython.

import json
import os

ROOT = os.getenv("HILSIM_HW") or "."
POWER = os.getenv("HILSIM_POWER") or "-"
RESTART_EXIT = 75  # what the virtual board takes for "reset me" (as the firmware's reboot does)
BOOTLOADER_EXIT = 77  # and for "reset into the ROM's download mode" (machine.bootloader())

# every key exists from the start: the chip's thread reads this dict while the interpreter writes it
state = {"cause": None, "wdt_deadline": None, "wdt_timeout": None, "pending": None, "rtc_offset": None}


def path(name):
    return ROOT + "/" + name


def exists(name):
    try:
        os.stat(path(name))
        return True
    except OSError:
        return False


def read_text(name):
    try:
        with open(path(name)) as f:
            return f.read().strip()
    except OSError:
        return None


def write_text(name, text):
    with open(path(name), "w") as f:
        f.write(text)


def remove(name):
    try:
        os.remove(path(name))
    except OSError:
        pass


def control(section):
    # The host's current settings for one part ({} when it set none): read afresh at every call.
    try:
        with open(path("control.json")) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    return doc.get(section) or {}


def take_reset_cause():
    # At boot (esp32_boot.py): why this boot happened: what the last reset recorded in this power session;
    # anything else is a power-on, which also frees a hung bus. Kept in boot_cause for the REPL's interpreter.
    recorded = (read_text("reset_cause") or "").split()
    remove("reset_cause")
    if len(recorded) == 2 and recorded[1] == POWER:
        state["cause"] = recorded[0]
    else:
        state["cause"] = "power_on"
        remove("hang")
    write_text("boot_cause", state["cause"] + " " + POWER)
    return state["cause"]


def reset_cause():
    # machine.reset_cause(): this boot's, as the boot took it (in the REPL's interpreter: from boot_cause).
    if state["cause"] is None:
        recorded = (read_text("boot_cause") or "").split()
        state["cause"] = recorded[0] if len(recorded) == 2 and recorded[1] == POWER else "power_on"
    return state["cause"]


def record_reset(cause):
    # Before the chip restarts: the next boot's reset_cause(); a reset also frees a hung bus.
    write_text("reset_cause", cause + " " + POWER)
    remove("hang")


# --- the RTC: seconds since 2000-01-01 (the ESP32 port's epoch), kept across resets but not power-offs ---

EPOCH_2000 = 946684800


def _host_time():
    import utime

    return utime.time()


def rtc_load(power_on):
    # At boot: a power-on starts the RTC at 2000-01-01 00:00:00; any other reset keeps it running.
    if power_on or read_text("rtc_offset") is None:
        rtc_set(0)
    else:
        state["rtc_offset"] = float(read_text("rtc_offset"))


def rtc_now():
    if state["rtc_offset"] is None:
        rtc_load(False)
    return _host_time() + state["rtc_offset"]


def rtc_set(seconds):
    state["rtc_offset"] = seconds - _host_time()
    write_text("rtc_offset", repr(state["rtc_offset"]))


def seconds_2000(year, month, day, hour, minute, second):
    # UTC calendar time -> seconds since 2000-01-01 (no time zone, as on the board).
    def leap(y):
        return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)

    days = 0
    for y in range(2000, year):
        days += 366 if leap(y) else 365
    months = (31, 29 if leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    for m in range(month - 1):
        days += months[m]
    return (days + day - 1) * 86400 + hour * 3600 + minute * 60 + second
