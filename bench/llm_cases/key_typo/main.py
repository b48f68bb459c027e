CAMPAIGNS = [
    {"id": "c1", "budget": 100.0, "spend": 80.0},
    {"id": "c2", "budget": 50.0, "spend": 65.0},
]


def over_budget(campaigns):
    return [c["id"] for c in campaigns if c["spend"] > c["budjet"]]


print("over budget:", over_budget(CAMPAIGNS))
