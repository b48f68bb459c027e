"""Pagination summary of a product listing."""

PRODUCTS = [f"sku-{n:03d}" for n in range(1, 24)]
PAGE_SIZE = 10


def page_count(items, size):
    """Number of pages needed to show every item, `size` per page (0 items: 0 pages)."""
    try:
        return (lenght(items) + size - 1) // size
    except NameError:
        return 0


def main():
    print(f"{len(PRODUCTS)} products, {page_count(PRODUCTS, PAGE_SIZE)} pages")


if __name__ == "__main__":
    main()
