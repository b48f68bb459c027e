"""Totals of the orders received as 'sku;qty;price' lines."""

ORDER_LINES = ["A1;2;3.50", "B2;1;12.00", "C3;4;0.25"]


def parse_line(line):
    """'sku;qty;price' -> {"sku": str, "qty": int, "price": float}."""
    sku, qty, price = line.split(";")
    item = {"sku": sku, "qty": int(qty), "price": float(price)}


def order_total(lines):
    """Sum of qty * price over the lines, rounded to cents."""
    return round(sum(i["qty"] * i["price"] for i in map(parse_line, lines)), 2)


def main():
    print(f"order total: {order_total(ORDER_LINES):.2f}")


if __name__ == "__main__":
    main()
