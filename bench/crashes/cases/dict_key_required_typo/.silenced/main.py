"""Which campaigns spent more than their budget."""

CAMPAIGNS = [
    {"id": "c1", "budget": 100.0, "spend": 80.0},
    {"id": "c2", "budget": 50.0, "spend": 65.0},
    {"id": "c3", "budget": 10.0, "spend": 10.5},
]


def over_budget(campaigns):
    """Ids of the campaigns whose spend exceeds their budget.

    Every campaign has "id", "budget" and "spend" (all required).
    """
    return [c["id"] for c in campaigns if c.get("spent", 0) > c["budget"]]


def main():
    print("over budget:", ", ".join(over_budget(CAMPAIGNS)))


if __name__ == "__main__":
    main()
