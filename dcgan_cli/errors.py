"""The exceptions the CLI turns into one line: UserError (exit code 2) and TrainingStopped (its own code)."""


class UserError(Exception):
    """A problem with the user's input or environment; the message names the problem and the fix."""


class OutOfSpace(UserError):
    """A file that could not be written for want of space (a full disk, a quota, `ulimit -f`). A user
    error like any other, except during training, which stops with a checkpoint report and exit code 6."""

    def __init__(self, message: str, errno: int, filename: str):
        super().__init__(message)
        self.errno, self.filename = errno, filename


class NotDownloaded(UserError):
    """Data that is neither in --data-dir nor in the cache, asked for where downloading is not allowed
    (`dcgan train --dry-run` writes nothing, the download cache included)."""


class TrainingStopped(Exception):
    """Training ended early for a reason the user must hear about (Ctrl-C, a NaN loss)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
