"""Value of the stock on hand."""

STOCK = {"espresso": 12, "latte": 4, "mocha": 0}
UNIT_COST = {"espresso": 0.5, "latte": 0.8, "mocha": 0.9}


def stock_value(stock, unit_cost):
    """Sum of quantity * unit cost over the products in stock, rounded to cents."""
    total = 0.0
    for product, quantity in stock.items():
        total += quantity * unit_cost[product]
    return round(total, 2)


def main():
    print(f"stock value: {stock_value(STOCK, UNIT_COST):.2f}")


if __name__ == "__main__":
    main()
