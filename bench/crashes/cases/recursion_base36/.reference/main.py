"""Short codes for order numbers, in base 36."""

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def to_base36(n):
    """n >= 0 in base 36, upper case, no leading zeros: 0 -> '0', 35 -> 'Z', 36 -> '10'."""
    if n < 36:
        return DIGITS[n]
    return to_base36(n // 36) + DIGITS[n % 36]


def main():
    for order in [7, 36, 123456]:
        print(order, to_base36(order))


if __name__ == "__main__":
    main()
