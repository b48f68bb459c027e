"""The nightly revenue job: reads the orders the shop exported to data/orders.csv."""

import csv
from pathlib import Path

ORDERS = Path(__file__).parent / "data" / "orders.csv"


def revenue(path=ORDERS):
    """Sum of the "amount" column. The export must be there: a missing file is a failed
    delivery to report, not a day without orders."""
    with open(path, newline="") as f:
        return round(sum(float(row["amount"]) for row in csv.DictReader(f)), 2)


def main():
    print(f"revenue: {revenue():.2f}")


if __name__ == "__main__":
    main()
