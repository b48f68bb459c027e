"""The program the probe's cost is measured on: one function called 100,000 times (the one a
fix would edit), beside other Python work the probe does not watch."""

import json


def cost_per_click(spend, clicks):
    if clicks == 0:
        return 0.0
    return spend / clicks


def parse_row(line):
    name, spend, clicks = line.split(",")
    return name.strip(), float(spend), int(clicks)


def summarise(rows):
    by_name = {}
    for name, spend, clicks in rows:
        entry = by_name.setdefault(name, [0.0, 0])
        entry[0] += spend
        entry[1] += clicks
    return json.dumps(sorted(by_name.items()))


def main():
    lines = ["campaign-%d, %d.5, %d" % (i % 50, i % 997, i % 13) for i in range(100000)]
    rows = [parse_row(line) for line in lines]
    total = 0.0
    for _, spend, clicks in rows:
        total += cost_per_click(spend, clicks)
    report = summarise(rows)
    print(round(total, 3), len(report))


if __name__ == "__main__":
    main()
