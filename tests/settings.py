"""The suite's settings: exactly ``delight.settings``, read in the test environment.

``tests.environment`` sets the variables first (a generated Clerk key pair, a secret key, DEBUG
off); nothing here overrides a setting.
"""

# isort: off
from tests import environment  # noqa: F401 - must run before the settings are read
from delight.settings import *  # noqa: F403
