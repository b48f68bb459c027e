"""Consumes order events from the message broker."""

import json

RAW_MESSAGES = [
    '{"id": 1, "payload": {"order": "A-1", "amount": 12.5}}',
    '{"id": 2, "payload": {"order": "A-2", "amount": 7.0}}',
]


def handle(raw):
    """The broker sends JSON text whose "payload" is a JSON object; returns (order, amount)."""
    envelope = json.loads(raw)
    payload = envelope["payload"]
    return payload["order"], payload["amount"]


def main():
    for raw in RAW_MESSAGES:
        order, amount = handle(raw)
        print(f"{order}: {amount:.2f}")


if __name__ == "__main__":
    main()
