"""Bureau audit: the crossings list and detail, the dashboard, the daily summary and CSV exports (issue 5)."""
