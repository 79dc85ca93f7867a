"""One base for every error whose message is fit to show a person as-is (CLI line, UI message)."""


class UserError(Exception):
    """Raised for bad input, missing data or files, unavailable devices: shown without a traceback."""
