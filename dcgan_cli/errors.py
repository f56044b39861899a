"""The one exception type that the CLI turns into a one-line error and exit code 2."""


class UserError(Exception):
    """A problem with the user's input or environment; the message names the problem and the fix."""


class TrainingStopped(Exception):
    """Training ended early for a reason the user must hear about (Ctrl-C, a NaN loss)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
