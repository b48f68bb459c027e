"""Paginates the product listing from a request's query string."""

from urllib.parse import parse_qs

PRODUCTS = [f"sku-{n}" for n in range(1, 11)]


def page(items, query):
    """The items of page `page` (1-based) of `size` items, from 'page=2&size=3'."""
    params = {k: v[0] for k, v in parse_qs(query).items()}
    number, size = int(params["page"]), int(params["size"])
    start = (number - 1) * size
    return items[start:start + size]


def main():
    print(page(PRODUCTS, "page=2&size=3"))
    print(page(PRODUCTS, "page=4&size=3"))


if __name__ == "__main__":
    main()
