"""Quarantine follow-up (issue 14): the enterprise confirms that each passenger released into its quarantine
arrived there; the bureau sees open and overdue tasks; the audit's sweep raises ``quarantine_overdue``."""
