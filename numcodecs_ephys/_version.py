__version__ = "0.2.0"  # the one version source: pyproject reads it, numcodecs_ephys exports it
