"""Departments a problem can be passed to (public security, health, industry …), each with its own staff."""
