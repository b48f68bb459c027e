"""The shopping basket of the checkout service."""


class Basket:
    def __init__(self, lines):
        self.lines = lines  # [(sku, qty, unit_price)]

    @staticmethod
    def subtotal(lines):
        """Sum of qty * unit_price, rounded to cents."""
        return round(sum(qty * price for _, qty, price in lines), 2)

    def total(self, shipping=4.9):
        """Subtotal plus shipping; shipping is free from 50.00."""
        sub = self.subtotal(self.lines)
        return round(sub + (0 if sub >= 50 else shipping), 2)


def main():
    for lines in [[("A1", 2, 3.5), ("B2", 1, 12.0)], [("C3", 5, 10.0)]]:
        print(f"total: {Basket(lines).total():.2f}")


if __name__ == "__main__":
    main()
