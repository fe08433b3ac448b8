# The board layer: the HAL and the runtime API on MicroPython's asyncio (also CPython's).
#
# Deployed to the ESP32 with the rest of firmware/; the same modules run under the
# MicroPython Unix port in CI and on the virtual board, with the sensor and WiFi
# simulated behind the same HAL (sim_hal.py). Imports only firmware/ and what
# MicroPython has; the ESP32-only modules (machine, dht, network, ntptime) are imported
# in esp32_hal.py alone, and only when a config asks for that board.
