"""Invoices of the month, with VAT."""


class Invoice:
    def __init__(self, number, amount, vat_rate):
        self.number = number
        self.amount = amount
        self.vat_rate = vat_rate

    def total(self):
        """Amount including VAT, rounded to cents."""
        return round(getattr(self, "ammount", 0) * (1 + self.vat_rate), 2)

    def line(self):
        return f"{self.number}: {self.total():.2f}"


INVOICES = [Invoice("F-001", 100.0, 0.2), Invoice("F-002", 55.5, 0.055)]


def main():
    for invoice in INVOICES:
        print(invoice.line())


if __name__ == "__main__":
    main()
