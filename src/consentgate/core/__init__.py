"""The pure policy core: terms in force, effective settings, consent state, decide.

Deciding reads a :class:`World` (state as of every time) and a :class:`Policy` and
returns a :class:`Decision`; there is no I/O, no clock and no framework in here.
"""

from .decide import Evaluator, decide, decide_many
from .decision import Decision, Reason
from .policy import Policy
from .world import World

__all__ = ["Decision", "Evaluator", "Policy", "Reason", "World", "decide", "decide_many"]
