"""Decides each campaign's next budget from its recent performance."""


def next_budget(campaign):
    spend = campaign["spend"]
    conversions = campaign["conversions"]
    cost_per_conversion = spend / conversions if conversions else spend
    if cost_per_conversion < campaign["target_cpa"]:
        return round(campaign["budget"] * 1.2, 2)
    return round(campaign["budget"] * 0.8, 2)


def run_publish_cycle(campaigns):
    updates = []
    for campaign in campaigns:
        budget = next_budget(campaign)
        updates.append({"id": campaign["id"], "budget": budget})
        print(f"  {campaign['id']}: budget -> {budget}", flush=True)
    return len(update)
