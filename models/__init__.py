"""Where every model comes from (PyPI packages that ship the files), how to find and verify them, and the
INT4 build of the language model. Returns paths; loads nothing."""
