"""Views: the persisted statistics and queue views (generations, catch-up, rebuild, follow) and audit replay."""
