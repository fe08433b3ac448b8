# Test faults injected through the console (``inject``, ``wifi_drop``), the same on every board.
#
# FaultySensor wraps any sensor HAL: while a fault is in force its reads fail the way a
# real DHT22 fails (a flipped bit, no answer, a frozen value); after ``for`` seconds
# the real sensor is read again. The WiFi HALs keep their own "down until" time.

from firmware.dht22 import NO_RESPONSE, SensorError, bits_frame, frame_bits


class FaultySensor:
    def __init__(self, sensor, clock):
        self.sensor = sensor
        self.clock = clock  # () -> seconds
        self.fault = None
        self.until = 0.0
        self._frozen = None

    def inject(self, kind, seconds):
        # kind: checksum, no_response, stuck, ok (ok clears).
        if kind == "ok":
            self.fault = None
            return
        self.fault = kind
        self.until = self.clock() + seconds
        self._frozen = None

    def active(self):
        if self.fault is not None and self.clock() >= self.until:
            self.fault = None
        return self.fault

    def read_frame(self):
        fault = self.active()
        if fault == "no_response":
            raise SensorError(NO_RESPONSE, "injected: no answer to the start signal")
        if fault == "stuck" and self._frozen is not None:
            return self._frozen
        frame = self.sensor.read_frame()
        if fault == "checksum":
            return bits_frame(frame_bits(frame) ^ 1)
        if fault == "stuck":
            self._frozen = frame
        return frame
