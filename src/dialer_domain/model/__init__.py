"""The model: aggregates built only by folding events, the events, values, errors, identities."""
