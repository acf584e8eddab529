"""Errors a user can meet. The CLI prints them without a traceback."""


class LakeError(Exception):
    """A failure with a message that says what was wrong and what to do."""

    def __init__(self, what: str, fix: str | None = None) -> None:
        self.what = what
        self.fix = fix
        super().__init__(what if fix is None else f"{what}\n  fix: {fix}")
