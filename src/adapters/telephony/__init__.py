"""Telephony adapters behind the core's Telephony port: the simulated world (calls, agents and a
virtual clock on simpy); Twilio, SIP and a fake are to come."""
