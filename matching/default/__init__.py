"""The converted-swap default auction: lots, sealed-bid windows, award, assignment, grading.

``lot`` holds what is auctioned (a defaulted position converted into a standard swap plus
cash, with the values the pricing library computed), ``award`` the pure award, assignment
and grading rules, ``auction`` the event-sourced state machine of one lot's sealed-bid
window. Like all of ``matching``: no I/O, no clock, no randomness of its own (the seed of
any draw is an argument and is recorded in the journal), and no import of ``pricing``.
"""
