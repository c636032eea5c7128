"""Pure decisions: given what is desired, what is observed and the time, what to do next.

Nothing here performs I/O. The server feeds observations in, executes the actions that
come back and stores the new state; the next pass sees the result (level-triggered).
"""
