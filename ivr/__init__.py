"""IVR: FastAGI server, call flows, Russian speech and prompt audio."""
