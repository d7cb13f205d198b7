"""A hotline task's states and outcomes: plain enums, light enough for the CLI's option types."""

from __future__ import annotations

import enum


class TaskState(enum.StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    DONE = "done"


class TaskOutcome(enum.StrEnum):
    REACHED = "reached"  # spoke to the caller, the question answered
    NOT_REACHED = "not_reached"  # no answer or busy after the tries the operator made
    WRONG_NUMBER = "wrong_number"
    ANSWERED_IN_WRITING = "answered_in_writing"  # feedback answered by letter or e-mail (HL-9, 7.6)
    APPOINTMENT_MADE = "appointment_made"  # a visit booked (HL-10)
    NO_MESSAGE = "no_message"  # an empty or unintelligible recording, nobody to call back
    DUPLICATE = "duplicate"  # the same request as another task
