"""Replies (DESIGN §11): what customers answer by e-mail and SMS, read once, matched to the message and
customer it answers, classified (zh-CN and en) and acted on, or given to a collector to confirm.

- :mod:`bot.replies.model` — the reply and its classification, shared by every step;
- :mod:`bot.replies.parse` — raw RFC 5322 bytes (or an inbound SMS) into a :class:`Reply`;
- :mod:`bot.replies.classify` — a :class:`Reply` into a :class:`Classification`;
- fetching (IMAP, the demo's drop folder, Twilio's inbound webhook) writes ``inbound_message`` rows;
  handling matches, acts and records the evidence, once per row.
"""
