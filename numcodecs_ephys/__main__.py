"""python -m numcodecs_ephys: the numcodecs-ephys command."""

import sys

from .recordings.cli import main

sys.exit(main())
