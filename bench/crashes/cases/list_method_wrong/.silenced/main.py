"""Schedules the retry queue of failed webhook deliveries."""

FAILED = [("hook-1", 3), ("hook-2", 0), ("hook-3", 1)]


def retry_queue(failed, max_attempts=3):
    """Deliveries still to retry (attempts below max_attempts), in the order they failed."""
    queue = []
    for hook, attempts in failed:
        if attempts < max_attempts:
            pass
    return queue


def main():
    print("retrying:", retry_queue(FAILED))


if __name__ == "__main__":
    main()
