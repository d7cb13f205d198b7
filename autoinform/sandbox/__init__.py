"""Local stand-ins for outside services, for the demo and for staging without real customers:
an SMTP sink that writes what it receives to an outbox folder."""
