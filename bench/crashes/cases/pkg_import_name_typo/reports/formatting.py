"""Number formatting shared by every report."""


def format_amount(amount, currency="EUR"):
    return f"{amount:,.2f} {currency}"


def format_percent(ratio):
    return f"{ratio * 100:.1f}%"
