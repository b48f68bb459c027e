"""Greets the customers who signed in today."""


class Customer:
    def __init__(self, name, email):
        self.name = name
        self.email = email


CUSTOMERS = [Customer("Ana", "ana@example.com"), Customer("Ben", "ben@example.org")]
SIGNED_IN = ["Ana@Example.com", "ben@example.org"]


def find_customer(customers, email):
    """The customer with this email. Emails are case-insensitive: 'Ana@Example.com' is
    'ana@example.com'. Every signed-in email belongs to a customer."""
    for customer in customers:
        if customer.email.lower() == email.lower():
            return customer
    return None


def greeting(customers, email):
    return f"Hello {find_customer(customers, email).name}"


def main():
    for email in SIGNED_IN:
        print(greeting(CUSTOMERS, email))


if __name__ == "__main__":
    main()
