"""Names of the products in today's orders."""

from store.products import Products

ORDERS = ["A1", "B2", "A1", "A1", "C3"]


def main():
    products = Products()
    print(", ".join(products.name(sku) for sku in ORDERS))
    print(f"loads: {products.loads}, cache hits: {products.cache.hits}")


if __name__ == "__main__":
    main()
