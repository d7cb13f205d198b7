"""Local stand-ins for outside services, for the demo, staging and tests without real customers:
an SMTP server that keeps messages in an outbox folder, a server implementing the Twilio Messages
API (signed status callbacks included), and a synthetic campaign builder for load tests."""
