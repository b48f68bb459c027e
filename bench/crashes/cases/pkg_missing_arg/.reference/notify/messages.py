"""Customer notifications."""

from .templates import render


def shipped_message(customer, order):
    """The 'shipped' message for this customer ({"name": ...}) and order id."""
    context = {"name": customer["name"], "order": order}
    return render("shipped", context)
