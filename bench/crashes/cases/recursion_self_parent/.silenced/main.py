"""Breadcrumbs of the shop's categories."""

# Each category's parent. The root category is its own parent.
PARENT = {"root": "root", "shoes": "root", "running": "shoes", "trail": "running", "bags": "root"}


def breadcrumb(category):
    """'root > shoes > running' for 'running'; 'root' for the root."""
    try:
        return breadcrumb(PARENT[category]) + " > " + category
    except RecursionError:
        return category


def main():
    for category in ["trail", "bags"]:
        print(breadcrumb(category))


if __name__ == "__main__":
    main()
