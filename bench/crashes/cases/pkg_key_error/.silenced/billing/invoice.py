"""Invoice totals."""


def invoice_total(customer, net):
    """Net amount plus the customer's VAT, rounded to cents."""
    return round(net * (1 + customer.get("vat", 0)), 2)


def invoice_line(customer, net):
    return f"{customer['name']} ({customer['country']}): {invoice_total(customer, net):.2f}"
