"""`dialer serve --demo`: a campaign and a list a new user can watch being dialled."""

from __future__ import annotations

import random
from datetime import datetime, time

from dialer_domain.model.campaign import Campaign
from dialer_domain.model.identities import campaign_id_for
from dialer_domain.model.values import (
    SIMULATED_DISPOSITIONS,
    CampaignSettings,
    CampaignStatus,
    ContactData,
    DialMode,
    OpeningHours,
    Period,
    PhoneNumber,
)
from dialer_domain.service_layer.handlers import CampaignSpec, add_contacts, create_campaign, set_campaign_status
from dialer_domain.service_layer.repository import Repository

DEMO_CAMPAIGN = "Demo"
DEMO_SKILL = "demo"


def ensure_demo_campaign(repo: Repository, *, at: datetime, contacts: int = 500, seed: int = 1, mode: DialMode = DialMode.PREVIEW) -> str:
    """The demo campaign (preview dialling by default: an agent is offered each contact and takes
    the offer; open around the clock, skill ``demo``) with a list of made-up contacts; created
    once, reused on the next start."""
    if repo.find(Campaign, campaign_id_for(DEMO_CAMPAIGN)) is not None:
        return DEMO_CAMPAIGN
    rng = random.Random(seed)
    hours = OpeningHours("Europe/Copenhagen", {d: (Period(time(0), time(23, 59, 59)),) for d in range(7)})
    settings = CampaignSettings(
        skill=DEMO_SKILL,
        max_ring_seconds=20,
        wrapup_seconds=30,
        min_redial_seconds=600,
        caller_id_number="+4570000000",
        caller_id_name="Demo Co",
        dispositions=SIMULATED_DISPOSITIONS,
        calling_policy="none",  # made-up numbers, dialled around the clock (a real campaign keeps the callee's hours)
        callback_outside_hours="move",  # a callback a bot asks for in the second before midnight (the hours' gap) goes to the next opening
    )
    spec = CampaignSpec(name=DEMO_CAMPAIGN, description="dialer serve --demo", manager="demo", priority=5, dial_mode=mode)
    campaign = create_campaign(repo, spec, settings=settings, hours=hours, at=at)
    products = ("fibre 1000", "mobile 5G", "tv basic", "insurance")
    rows = [
        (
            f"demo-{i + 1:05d}",
            (PhoneNumber(f"+452{rng.randrange(10**7):07d}"),),
            ContactData(name=f"Demo Contact {i + 1}", variables={"product": products[i % len(products)], "segment": "demo"}),
            5,
            None,
        )
        for i in range(contacts)
    ]
    add_contacts(repo, campaign.id, rows, source="demo", at=at)
    set_campaign_status(repo, campaign.id, CampaignStatus.AUTOMATIC, by="demo", at=at)
    return DEMO_CAMPAIGN
