"""Local stand-ins for outside services (SMTP, Twilio) that speak the real protocols."""
