"""Who may call the HTTP API: bearer tokens with roles."""
