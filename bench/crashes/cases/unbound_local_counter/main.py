"""An event handler that counts what it processed, for the metrics endpoint."""

processed = 0
EVENTS = [{"type": "click"}, {"type": "view"}, {"type": "click"}]


def handle(event):
    """Handles one event and counts it in the module-level `processed`; returns its type."""
    kind = event["type"]
    processed += 1
    return kind


def main():
    kinds = [handle(e) for e in EVENTS]
    print(f"handled {kinds}; processed={processed}")


if __name__ == "__main__":
    main()
