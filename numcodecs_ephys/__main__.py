"""python -m numcodecs_ephys: the numcodecs-ephys command."""

import sys

from .cli import main

sys.exit(main())
