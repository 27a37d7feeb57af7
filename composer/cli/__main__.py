"""``python -m composer.cli ...`` is the ``composer`` command (for environments without the script)."""
import sys

from composer.cli import main

sys.exit(main())
