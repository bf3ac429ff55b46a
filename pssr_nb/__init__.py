"""pssr_nb: notebook-first point-scanning super-resolution for microscopy teaching."""

__version__ = "0.1.0"
