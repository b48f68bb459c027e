"""The daily report line of each client."""

AMOUNTS = {"avego": [120.5, 80.25, 42.25], "northwind": [19.9, 0.1]}


def daily_report(client, amounts):
    """'<client>: Total: <sum with two decimals> EUR', e.g. 'avego: Total: 243.00 EUR'."""
    total = sum(amounts)
    line = f"Total: {total:.2f} EUR"
    return f"{client}: {line}"


def main():
    for client, amounts in AMOUNTS.items():
        print(daily_report(client, amounts))


if __name__ == "__main__":
    main()
