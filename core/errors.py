"""One base for every error whose message is fit to show a person as-is (CLI line, UI message)."""

from __future__ import annotations


class UserError(Exception):
    """Raised for bad input, missing data or files, unavailable devices: shown without a traceback.

    ``str(exc)`` is the English message (what a CLI prints). An error a dashboard visitor can meet also carries
    ``key``, a catalogue key (``core/i18n/strings/errors.toml``), and ``fields``, the values filled into it, so a
    page says the same thing in the visitor's language (``ui.show_error``)::

        raise ImageError(f"The file is {mb} MB; the limit is {limit} MB.", key="errors.image.file_too_large",
                         mb=mb, limit=limit)

    The catalogue's English text with the fields filled in is exactly the message (tests/test_error_keys.py checks
    every raise site). Fields are plain values written as ``{name}`` (no format spec: the UI escapes each one as
    text first), and values that come from a visitor are short excerpts.
    """

    def __init__(self, *args, key: str | None = None, **fields):
        super().__init__(*args)
        self.key = key
        self.fields = fields

    @classmethod
    def like(cls, exc: BaseException) -> "UserError":
        """This class with the message, key and fields of ``exc`` (a wrapper that keeps the translation)."""
        return cls(str(exc), key=getattr(exc, "key", None), **(getattr(exc, "fields", None) or {}))
