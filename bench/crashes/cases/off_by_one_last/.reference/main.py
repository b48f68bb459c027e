"""Current prices from the price history of each product."""

HISTORY = {
    "espresso": [1.8, 1.9, 2.1],
    "latte": [3.2],
    "mocha": [3.5, 3.4],
}


def latest_price(history):
    """The most recent price: history is ordered oldest first, never empty."""
    return history[len(history) - 1]


def main():
    for product, history in HISTORY.items():
        print(f"{product}: {latest_price(history):.2f}")


if __name__ == "__main__":
    main()
