"""Libra: a self-hosted, multilingual AI companion for Discord."""

__version__ = "0.1.0"
