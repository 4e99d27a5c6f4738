"""Generated wire API of Closeout (``closeout.v1``). Never hand-edited: see ``scripts/gen_proto.py``."""
