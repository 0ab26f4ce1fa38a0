"""Talking HTTP to other servers.

``upstream`` is the pooled HTTP/1.1 client that the reverse proxy and the
analytics forwarding share: connections kept alive, bounded, and a clear
error (``UpstreamClosed``) when the other side goes away, and
``UpstreamCutOff`` for a response that breaks off after it began. ``vendor``
keeps files the gateway serves on a vendor's behalf (tracker scripts, fonts):
fetched once at a time, bounded, the last good copy while the vendor fails.
``lazy`` imports a module on its first use: aiohttp, which only some features
need, so a worker that never uses them does not hold it.
"""
