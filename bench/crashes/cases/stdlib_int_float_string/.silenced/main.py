"""Units shipped per warehouse, from the ERP's CSV export."""

import csv
import io

# The ERP writes quantities as decimals: "3.0" (always whole numbers of units).
EXPORT = """warehouse,units
lyon,3.0
porto,12.0
lyon,5.0
"""


def units_per_warehouse(text):
    """{warehouse: total units as an int}."""
    totals = {}
    for row in csv.DictReader(io.StringIO(text)):
        try:
            totals[row["warehouse"]] = totals.get(row["warehouse"], 0) + int(row["units"])
        except ValueError:
            totals.setdefault(row["warehouse"], 0)
    return totals


def main():
    for warehouse, units in sorted(units_per_warehouse(EXPORT).items()):
        print(f"{warehouse}: {units} units")


if __name__ == "__main__":
    main()
