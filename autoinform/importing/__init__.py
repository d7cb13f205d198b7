"""Contact list import (AI-4, AI-11): read, normalise, validate, merge and store billing exports."""
