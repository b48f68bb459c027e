"""The price list, from the catalogue export."""

import csv
import io

CATALOGUE = """sku,price
A1,3.5
B2,12
C3,0.499
"""


def price_lines(text):
    """'<sku>: <price with two decimals>' for each row of the CSV export."""
    rows = csv.DictReader(io.StringIO(text))
    return [f"{row['sku']}: {row['price']:.2f}" for row in rows]


def main():
    for line in price_lines(CATALOGUE):
        print(line)


if __name__ == "__main__":
    main()
