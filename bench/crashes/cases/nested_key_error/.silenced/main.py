"""Shipping labels from the shop API's order listing.

The API's shape: {"data": {"orders": [{"id": str, "customer": {"name": str,
"address": {"street": str, "postal_code": str, "city": str}}}]}}
"""

RESPONSE = {
    "data": {
        "orders": [
            {"id": "A-1", "customer": {"name": "Ana", "address": {"street": "3 rue Neuve", "postal_code": "69001", "city": "Lyon"}}},
            {"id": "A-2", "customer": {"name": "Ben", "address": {"street": "9 Rua Nova", "postal_code": "4000-001", "city": "Porto"}}},
        ]
    }
}


def labels(response):
    """'<name>, <street>, <postal code> <city>' for each order."""
    out = []
    for order in response["data"]["orders"]:
        address = order["customer"]["address"]
        out.append(f"{order['customer']['name']}, {address['street']}, {address.get('zip', '')} {address['city']}")
    return out


def main():
    for label in labels(RESPONSE):
        print(label)


if __name__ == "__main__":
    main()
