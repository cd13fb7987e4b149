"""Clinic use cases: patients and their history, accounts, the audit log.

Every function here takes the store and the acting user (``Actor``), owns its transaction,
checks the actor's role and clinic, and records what it did in the audit log. "Today"
always comes in as an argument.
"""
