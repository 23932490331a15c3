"""A local Azure Functions host for development and end-to-end tests; never deployed.

It runs `function_app.app` through the SDKs' own code paths: HTTP triggers on a real server,
blob triggers from Azurite, durable orchestrations (devhost.durable) and a local Web PubSub
service (devhost.webpubsub). `python -m devhost start|process|token`; see README.md.
"""

from devhost.errors import DevhostError
from devhost.host import DEFAULT_PORT, Host, HostOptions

__all__ = ["DEFAULT_PORT", "DevhostError", "Host", "HostOptions"]
