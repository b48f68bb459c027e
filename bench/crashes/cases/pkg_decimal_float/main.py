"""Prices including VAT, for the shop front."""

from pricing.catalog import PRICES
from pricing.tax import with_vat


def main():
    for sku, price in PRICES.items():
        print(f"{sku}: {with_vat(price)}")


if __name__ == "__main__":
    main()
