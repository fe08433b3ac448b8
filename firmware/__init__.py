# Sensor-node firmware: MicroPython-compatible; imports nothing of hilsim but its own modules.
