"""Pure numerics for the clearing house: calendars, schedules, curves, swaps, RCV, margin.

This package does no I/O and knows no clock: valuation dates are arguments. Float64 numpy
is right here (unlike matching/, which never touches binary floats for money); money only
becomes a decimal string at the edge (``money``, ``report``). QuantLib is the test-only
reference and is never imported here.

Layers, bottom up: ``dates`` / ``calendars`` / ``daycount`` / ``conventions`` (dates and
rules) -> ``schedule`` / ``legs`` (cash-flow layout, vectorised over many swaps) ->
``interpolation`` / ``curve`` / ``bootstrap`` / ``market`` (curves) -> ``swaps`` / ``risk``
(valuation, DV01) -> ``conversion`` / ``margin`` (the clearing-house questions) ->
``inputs`` / ``report`` (plain data in and out, for the CLI and the gRPC servicer).
"""
