"""Pure numerics for the clearing house: calendars, schedules, curves, swaps, RCV, margin.

This package does no I/O and knows no clock: valuation dates are arguments. Float64 numpy
is right here (unlike matching/, which never touches binary floats for money).
"""
