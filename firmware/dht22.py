# DHT22 (AM2302) protocol: the sensor's 40-bit frame decoded, checked and encoded.
#
# A frame is 5 bytes: humidity x10 (16 bits), temperature x10 (15 bits, top bit
# of the 16 is the sign), checksum = low byte of the sum of the first four bytes.
# Values are kept in tenths (ints) so they format identically under MicroPython
# and CPython. The board HAL reads raw frames with dht.dht_readinto(pin, buf);
# the sim sensor produces the same frames, so this decoding path runs in both.

# Physical range of the DHT22 (datasheet): -40..80 degC, 0..100 %RH.
TEMP_MIN10 = -400
TEMP_MAX10 = 800
HUMIDITY_MAX10 = 1000

# Reasons a read can fail, counted per kind by the node.
TIMEOUT = "timeout"          # the sensor started answering but a bit never came
NO_RESPONSE = "no_response"  # no answer to the start signal at all (disconnected)
CHECKSUM = "checksum"        # frame received, checksum does not match
RANGE = "range"              # checksum fine, but outside what a DHT22 can measure
REASONS = (TIMEOUT, NO_RESPONSE, CHECKSUM, RANGE)


class SensorError(Exception):
    # A failed read; ``reason`` is one of REASONS.

    def __init__(self, reason, detail=""):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def checksum(frame):
    return (frame[0] + frame[1] + frame[2] + frame[3]) & 0xFF


def decode_frame(frame):
    # 5 bytes -> (humidity_x10, temperature_x10); raises SensorError(CHECKSUM or RANGE).
    if frame is None or len(frame) != 5:
        raise SensorError(TIMEOUT, "short frame")
    if checksum(frame) != frame[4]:
        raise SensorError(CHECKSUM, "got %02x want %02x" % (frame[4], checksum(frame)))
    humidity = (frame[0] << 8) | frame[1]
    temperature = ((frame[2] & 0x7F) << 8) | frame[3]
    if frame[2] & 0x80:
        temperature = -temperature
    if humidity > HUMIDITY_MAX10 or temperature < TEMP_MIN10 or temperature > TEMP_MAX10:
        raise SensorError(RANGE, "h=%d t=%d" % (humidity, temperature))
    return humidity, temperature


def encode_frame(humidity10, temperature10):
    # (humidity_x10, temperature_x10) -> the 5 bytes a healthy sensor sends.
    h = int(humidity10) & 0xFFFF
    t = abs(int(temperature10)) & 0x7FFF
    b2 = t >> 8
    if temperature10 < 0 and t:
        b2 |= 0x80
    frame = bytearray((h >> 8, h & 0xFF, b2, t & 0xFF, 0))
    frame[4] = checksum(frame)
    return bytes(frame)


def frame_bits(frame):
    # The frame as the 40-bit integer on the wire, first bit sent = most significant.
    value = 0
    for b in frame:
        value = (value << 8) | b
    return value


def bits_frame(value):
    # The 40-bit integer back to 5 bytes.
    return bytes(((value >> 32) & 0xFF, (value >> 24) & 0xFF, (value >> 16) & 0xFF,
                  (value >> 8) & 0xFF, value & 0xFF))


def tenths(value10):
    # 215 -> "21.5", -5 -> "-0.5": one decimal, exact, without float formatting.
    sign = "-" if value10 < 0 else ""
    value10 = abs(value10)
    return sign + str(value10 // 10) + "." + str(value10 % 10)
