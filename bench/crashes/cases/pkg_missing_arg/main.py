"""Sends today's shipping notifications (printed here)."""

from notify.messages import shipped_message

SHIPPED = [({"name": "Ana"}, "A-1042"), ({"name": "Ben"}, "B-7")]


def main():
    for customer, order in SHIPPED:
        print(shipped_message(customer, order))


if __name__ == "__main__":
    main()
