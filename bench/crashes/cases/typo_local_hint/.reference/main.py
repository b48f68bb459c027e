"""Daily revenue summary for the ads dashboard."""

ORDERS = [
    {"id": 1, "amount": 19.99},
    {"id": 2, "amount": 5.01},
    {"id": 3, "amount": 75.25},
]


def revenue(orders):
    """Sum of the order amounts, in euros, rounded to cents."""
    total = 0.0
    for order in orders:
        total += order["amount"]
    return round(total, 2)


def main():
    print(f"orders: {len(ORDERS)}")
    print(f"revenue: {revenue(ORDERS):.2f} EUR")


if __name__ == "__main__":
    main()
