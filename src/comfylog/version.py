"""comfylog's version: a leaf, so that any part (the HTML page's generator tag) can name it."""

__version__ = "0.1.0"
