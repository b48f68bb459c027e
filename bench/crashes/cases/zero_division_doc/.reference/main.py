"""Cost per conversion of each campaign, for the bidding engine."""

CAMPAIGNS = [
    {"id": "c1", "spend": 80.0, "conversions": 4},
    {"id": "c2", "spend": 65.0, "conversions": 0},
    {"id": "c3", "spend": 12.0, "conversions": 3},
]


def cost_per_conversion(campaign):
    """Spend divided by conversions. A campaign with no conversion yet costs its whole
    spend per conversion (counted as if it had one), so it still ranks by spend."""
    return campaign["spend"] / max(campaign["conversions"], 1)


def main():
    for campaign in CAMPAIGNS:
        print(campaign["id"], f"{cost_per_conversion(campaign):.2f}")


if __name__ == "__main__":
    main()
