"""The Slack integration (slack-bolt's AsyncApp, Socket Mode or HTTP)."""

from integrations.slack.adapter import SlackIntegration

__all__ = ["SlackIntegration"]
