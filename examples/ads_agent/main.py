"""A small ads agent: reads campaigns, decides budgets, "publishes" them.

It has a bug on purpose (a typo in engine/decision_engine.py) so that heal has something to catch.
"""
import json
import pathlib

from engine.decision_engine import run_publish_cycle

CAMPAIGNS = pathlib.Path(__file__).with_name("campaigns.json")


def main():
    campaigns = json.loads(CAMPAIGNS.read_text())
    print(f"ads agent: {len(campaigns)} campaigns for client avego", flush=True)
    published = run_publish_cycle(campaigns)
    print(f"ads agent: published {published} budget updates", flush=True)


if __name__ == "__main__":
    main()
