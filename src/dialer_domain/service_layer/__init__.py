"""The service layer: how the dialler runs a step (a unit of work: one atomic append, then the
effects on the world), its timers, and what it undoes when the store refuses a step."""
