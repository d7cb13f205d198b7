"""The operators' desk (issue 13; AI-8, HL-4, HL-5, HL-9, QI-2): operators and their phones, the
screen-pop when the queue connects a caller, wrap-up, callbacks from the desk, the supervisor's view.

events.py reads AMI events and replies (no I/O), store.py is the database side, card.py what an
operator's page shows, control.py the AMI side (listener, pause, callback, QueueStatus)."""
