"""``closeout console``: the operator console and the public results pages, on the web.

A client of ``closeout serve`` like any other: it speaks only the wire API through the SDK
and never imports ``server``. ``app.py`` builds the ASGI app; ``sessions.py`` keeps who is
signed in; ``views.py`` decides what each page shows; ``templates/`` and ``static/`` lay it
out (htmx and its SSE extension are vendored under ``static/vendor/``, no build step).
"""
