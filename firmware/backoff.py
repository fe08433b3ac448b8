# Reconnect backoff: exponential with full jitter, capped.


def next_backoff(attempt, rng, base=1.0, cap=60.0):
    # attempt 1 waits up to base, attempt 2 up to 2*base, ... never more than cap.
    # Full jitter keeps a fleet that lost the broker together from reconnecting together.
    ceiling = min(cap, base * (2 ** min(attempt - 1, 16)))
    return ceiling * (0.5 + 0.5 * rng.random())
