"""Account balances, each in the client's own currency."""

CLIENTS = [
    {"name": "avego", "balance": 1234.5, "currency": "EUR"},
    {"name": "northwind", "balance": 99, "currency": "USD"},
]


def format_amount(amount, currency):
    return f"{amount:,.2f} {currency}"


def summary(client):
    """'<name>: <balance> <currency>', the balance in the client's own currency."""
    return f"{client['name']}: {format_amount(client['balance'])}"


def main():
    for client in CLIENTS:
        print(summary(client))


if __name__ == "__main__":
    main()
