"""Privacy: what BackCheck logs, keeps and deletes (redacted logs, deletion on request, retention)."""
