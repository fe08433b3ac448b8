# Reconnect backoff: exponential with "equal jitter" (half fixed, half random), capped.


def next_backoff(attempt, rng, base=1.0, cap=60.0):
    # attempt 1 waits base/2..base, attempt 2 base..2*base, ... never more than cap.
    # The random half keeps a fleet that lost the broker together from reconnecting
    # together; the fixed half keeps a retry from coming back almost at once.
    ceiling = min(cap, base * (2 ** min(attempt - 1, 16)))
    return ceiling * (0.5 + 0.5 * rng.random())
