"""VAT."""

from decimal import ROUND_HALF_UP, Decimal

VAT_RATE = 0.2


def with_vat(price):
    """The price including 20% VAT, as a Decimal rounded half-up to the cent."""
    return (price * (1 + VAT_RATE)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
