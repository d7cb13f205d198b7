"""The region's hotline IVR (issue 11; HL-1 to HL-11, QI-2).

`backend.HotlineBackend` is everything the `/hotline` flow needs from the engine (customers,
balances, readings, tasks, call records); the flow itself never touches the database.
"""
