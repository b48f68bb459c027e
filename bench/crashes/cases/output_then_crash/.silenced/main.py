"""The sales report by region: a line per region, then the top regions."""

SALES = [("north", 120.0), ("south", 80.0), ("north", 30.0), ("south", 95.0)]


def totals(sales):
    out = {}
    for region, amount in sales:
        out[region] = out.get(region, 0.0) + amount
    return out


def top_regions(by_region, n=3):
    """Up to n (region, total) pairs, best first (fewer when there are fewer regions)."""
    ranked = sorted(by_region.items(), key=lambda kv: kv[1], reverse=True)
    try:
        return [ranked[i] for i in range(n)]
    except IndexError:
        return []


def main():
    by_region = totals(SALES)
    print("SALES BY REGION")
    for region in sorted(by_region):
        print(f"  {region:<8}{by_region[region]:>10.2f}")
    print(f"  {'total':<8}{sum(by_region.values()):>10.2f}")
    print("TOP REGIONS")
    for place, (region, total) in enumerate(top_regions(by_region), 1):
        print(f"  {place}. {region}")


if __name__ == "__main__":
    main()
