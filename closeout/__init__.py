"""Generated wire API of Closeout (``closeout.v1``).

Never hand-edited: ``scripts/gen_proto.py`` regenerates it from ``proto/``.
"""
