def format_amount(amount, currency):
    return f"{amount:.2f} {currency}"


def summary(client, total):
    return f"{client}: {format_amount(total)}"


print(summary("avego", 242.75))
