"""Makes the shared oracle module ``_mp_oracle`` of this directory importable.

pytest runs with ``--import-mode=importlib``, which does not put test directories on
``sys.path``; the helper module has a name unique to this directory.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
