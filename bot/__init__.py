"""dunbot: an automated dunning bot with a tamper-evident evidence log."""

import warnings

__version__ = "0.1.0"

# cryptography 51 deprecates DSA, and pyHanko (0.38) imports its DSA key class to recognise such
# keys, so every command that signs or verifies a notice would print that warning on stderr. dunbot
# never makes or accepts a DSA key; only this one warning, raised inside pyHanko's imports, is hushed.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"pyhanko\.")
