"""``python -m proactive_gym`` = the ``proactive-gym`` command."""

import sys

from proactive_gym.cli import main

sys.exit(main())
