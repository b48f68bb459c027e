def daily_report(client, amounts):
    total = sum(amounts)
    line = "Total: " + total
    return f"{client}: {line}"


print(daily_report("avego", [120.5, 80.25, 42.0]))
