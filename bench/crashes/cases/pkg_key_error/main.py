"""Prints this month's invoices."""

from billing.invoice import invoice_line
from billing.models import CUSTOMERS


def main():
    for customer in CUSTOMERS:
        print(invoice_line(customer, 1000.0))


if __name__ == "__main__":
    main()
