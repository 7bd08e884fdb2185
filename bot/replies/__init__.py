"""Replies (DESIGN §11): what customers answer by e-mail and SMS, read once, matched to the message and
customer it answers, classified (zh-CN and en) and acted on, or given to a collector to confirm.

- :mod:`bot.replies.model` — the reply and its classification, shared by every step;
- :mod:`bot.replies.parse` — raw RFC 5322 bytes (or an inbound SMS) into a :class:`Reply`;
- :mod:`bot.replies.classify` — a :class:`Reply` into a :class:`Classification`;
- fetching (IMAP, the demo's drop folder, Twilio's inbound webhook) writes ``inbound_message`` rows;
- :mod:`bot.replies.matching` — the customer and message a reply answers (tag, headers, sender);
- :mod:`bot.replies.handling` — leases ``received`` rows, reads, matches, classifies, and acts
  (:mod:`bot.replies.acting`) in the transaction that moves the row on: once per row;
- :mod:`bot.replies.records` — the row's states, the raw reply read back, the reply events;
- :mod:`bot.replies.confirming` — what a collector confirms (or dismisses) when handling would not act.
"""
