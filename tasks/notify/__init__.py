"""Rendering and sending alerts by email and Slack (no Prefect here).

``deliver_pending(settings, now=None, *, limit=None)`` is the entry point; the flow in
``flows/deliver.py`` and the ``newswatch deliver`` command both call it.
"""

from tasks.notify.dispatch import DeliveryHooks, DeliverySummary, deliver_pending
from tasks.notify.outcome import SendError, Sent
from tasks.notify.render import message_id, render_email
from tasks.notify.slack_blocks import render_slack

__all__ = [
    "DeliveryHooks",
    "DeliverySummary",
    "SendError",
    "Sent",
    "deliver_pending",
    "message_id",
    "render_email",
    "render_slack",
]
