"""Delivery channels: e-mail, SMS and phone behind one interface (channels.base)."""
