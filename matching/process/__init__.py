"""The default-management process as one pure home: the rules between the engines.

A default runs margin run -> default -> conversion into lots -> lot auctions -> award or
assignment -> settlement -> loss allocation. The engines keep their own state
(:class:`~matching.clearing.state.ClearingHouse`, one
:class:`~matching.default.auction.DefaultAuction` per auction); this package holds every
rule that spans them or that a driver would otherwise have to know: which positions a
margin run counts, how defaulted positions are grouped into lots and numbered, who is
invited when a window opens, which bids no longer count at the award, what an award means
for settlement, whether a lot may be withdrawn or auctioned again, and the loss waterfall.

``steps`` takes the engines and plain priced values and returns the engines' decisions;
``waterfall`` is the netting and loss allocation arithmetic. The server
(``server/default/registry.py``) and the offline runner (``clients/default_replay.py``) call
the same functions and add only durability, streams, timers and the seed draw (server) or a
synthetic clock (offline). No I/O, no clock, no randomness, no pricing.
"""
