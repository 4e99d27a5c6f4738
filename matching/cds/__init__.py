"""The ISDA two-stage CDS credit-event auction (``shared/spec/cds-auction.md``).

``params`` validates an auction's parameters, ``stage1`` and ``stage2`` are the pure rules,
``auction`` drives them as an event-sourced state machine, ``events`` are its facts and
``result`` its publication. No I/O anywhere in this package.
"""
