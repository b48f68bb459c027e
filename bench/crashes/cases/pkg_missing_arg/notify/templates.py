"""Message templates."""

TEMPLATES = {
    "shipped": "Hi {name}, your order {order} has shipped.",
    "refunded": "Hi {name}, order {order} was refunded ({amount} EUR).",
}


def render(template, context):
    """The template named `template`, filled from the dict `context`."""
    return TEMPLATES[template].format(**context)
