CAMPAIGNS = [
    {"id": "c1", "spend": 80.0, "conversions": 4},
    {"id": "c2", "spend": 65.0, "conversions": 0},
]


def cost_per_conversion(campaign):
    return campaign["spend"] / campaign["conversions"]


for campaign in CAMPAIGNS:
    print(campaign["id"], cost_per_conversion(campaign))
