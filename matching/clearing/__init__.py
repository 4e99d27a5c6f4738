"""Clearing state for default management: members, positions, collateral, margin, default.

``model`` holds the value types (members, swap terms, positions), ``eligibility`` the pure
rule for who may bid on a lot, ``settlement`` the pure cash and position moves of an award,
``state`` the event-sourced :class:`~matching.clearing.state.ClearingHouse`. Pricing values
(requirements, NPVs, RCV, b*, DV01) are computed outside and passed in as decimal strings;
this package never imports ``pricing``, does no I/O and reads no clock.
"""
