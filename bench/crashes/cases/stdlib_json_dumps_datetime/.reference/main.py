"""Serialises audit events for the audit log."""

import json
from datetime import datetime, timezone

EVENTS = [
    {"user": "ana", "action": "login", "at": datetime(2024, 5, 17, 10, 0, tzinfo=timezone.utc)},
    {"user": "ben", "action": "export", "at": datetime(2024, 5, 17, 10, 5, 30, tzinfo=timezone.utc)},
]


def to_json(event):
    """One JSON object per event, keys sorted; "at" as an ISO 8601 string,
    e.g. "2024-05-17T10:00:00+00:00"."""
    return json.dumps({**event, "at": event["at"].isoformat()}, sort_keys=True)


def main():
    for event in EVENTS:
        print(to_json(event))


if __name__ == "__main__":
    main()
