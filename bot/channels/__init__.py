"""Transports behind one Protocol (:class:`bot.channels.base.Sender`); channels never import the store."""
