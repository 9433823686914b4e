"""Persistence: the event store on the eventsourcing library's recorders, its schema, the engine lock."""
