"""Cache keys of the pricing service."""

import hashlib


def cache_key(name):
    """The first 16 hex digits of the SHA-256 of the name's UTF-8 bytes."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


def main():
    for name in ["user:42", "price:café"]:
        print(name, cache_key(name))


if __name__ == "__main__":
    main()
