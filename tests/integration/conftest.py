"""Fixtures of the integration tier that start services: Prism (a mock of Twilio's REST API)."""

from tests.integration.twilio_mock import prism_url

__all__ = ["prism_url"]
