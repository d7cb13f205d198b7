"""The hotline's back office (issue 11): reception hours, balances, meter readings, tasks, call
records, recordings and SMS readings, over the database. `ivr/hotline/` talks to it only through
the HotlineBackend protocol (ivr/hotline/backend.py), implemented in `backend.py` here."""
