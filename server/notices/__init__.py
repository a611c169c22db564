"""Notices: what the portal tells its users (a list in the portal, e-mails through SMTP, signed webhooks)."""
