"""Masks card numbers before log lines are stored."""

import re

CARD = re.compile(r"\b\d{12}(\d{4})\b")

LINES = [
    "payment ok card=4111111111111111 amount=12.50",
    "refund card=5500000000000004",
]


def mask(line):
    """Every 16-digit card number keeps only its last four digits: '************1111'."""
    return CARD.sub(r"************\1", line)


def main():
    for line in LINES:
        print(mask(line))


if __name__ == "__main__":
    main()
