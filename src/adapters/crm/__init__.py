"""Outgoing integrations with a CRM."""
