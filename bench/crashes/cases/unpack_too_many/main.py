"""Totals per currency of the payment lines."""

# Each line: "<payer>,<amount>,<currency>"
LINES = ["ana,12.50,EUR", "ben,3.00,USD", "chloe,7.50,EUR"]


def totals_by_currency(lines):
    """{currency: total amount}."""
    totals = {}
    for line in lines:
        payer, amount = line.split(",")
        currency = line.rsplit(",", 1)[1]
        totals[currency] = totals.get(currency, 0.0) + float(amount)
    return totals


def main():
    for currency, total in sorted(totals_by_currency(LINES).items()):
        print(f"{currency}: {total:.2f}")


if __name__ == "__main__":
    main()
