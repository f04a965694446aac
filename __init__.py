"""slm_voice: the repository root is the package's root (pyproject maps daemon/, pipeline/, models/ and bench/ to
slm_voice.daemon, ...). This file makes that visible to readers and tools: `from ..pipeline import x` in daemon/
leads to the pipeline/ folder beside it. It is not installed and holds nothing."""
