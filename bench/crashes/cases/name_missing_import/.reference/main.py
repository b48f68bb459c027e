"""Splits a bill between participants, to the cent, with exact decimal arithmetic."""

from decimal import ROUND_DOWN, Decimal


def split(total, people):
    """Each share as a Decimal string with 2 places; the first shares take the leftover cents.

    split("100.00", 3) == ["33.34", "33.33", "33.33"]
    """
    amount = Decimal(total)
    base = (amount / people).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    leftover = int((amount - base * people) * 100)
    return [str(base + Decimal("0.01")) if i < leftover else str(base) for i in range(people)]


def main():
    print(" / ".join(split("100.00", 3)))
    print(" / ".join(split("10.00", 4)))


if __name__ == "__main__":
    main()
