"""The clinical core of trdnav.

Everything in this package is pure: no I/O, no clock, no framework. It takes a
validated knowledge base and a patient history (with its ``as_of`` date) and
returns decisions with their basis. ``tests/core/test_purity.py`` enforces this.
"""
