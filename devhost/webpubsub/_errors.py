"""The one error hierarchy of the local Web PubSub service."""

from __future__ import annotations


class WebPubSubError(Exception):
    """Base of every error `devhost.webpubsub` raises."""


class TokenRejected(WebPubSubError):
    """A token is missing, malformed, expired, wrongly signed, or meant for another audience."""


class InvalidPayload(WebPubSubError, ValueError):
    """Message data does not match its declared `dataType` or content type."""


class InvalidAction(WebPubSubError, ValueError):
    """A `webPubSub` output binding value that the real extension would reject too."""


class Forbidden(WebPubSubError):
    """A client asked for something its roles do not allow."""
