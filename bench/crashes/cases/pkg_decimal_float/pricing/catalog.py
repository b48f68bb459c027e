"""Prices are Decimals, never floats: totals must be exact to the cent."""

from decimal import Decimal

PRICES = {"A1": Decimal("19.99"), "B2": Decimal("5.05"), "C3": Decimal("0.10")}
