"""Extracts order ids from the carrier's shipping notices."""

import re

# Order ids are a capital letter, a dash and digits: "A-1042".
ORDER_RE = re.compile(r"order ([A-Z]-\d+)")

NOTICES = [
    "order A-1042 shipped from Lyon",
    "order B-7 shipped from Porto",
]


def order_id(notice):
    """The order id in a shipping notice, e.g. 'A-1042'."""
    return ORDER_RE.search(notice).group(1)


def main():
    for notice in NOTICES:
        print("shipped:", order_id(notice))


if __name__ == "__main__":
    main()
