"""Stock alerts for the warehouse."""

STOCK = {"espresso beans": 4, "milk": 25, "cups": 0, "sugar": 12}


def low_stock(stock, threshold=5):
    """Items below the threshold, sorted by name, as 'name (qty)'."""
    return sorted(f"{name} ({qty})" for name, qty in stock.items() if qty < threshold)


def main():
    print("reorder:", "; ".join(low_stock(STOCK)))


if __name__ == "__main__":
    main()
