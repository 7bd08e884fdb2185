"""`python -m bot` is `dunbot`."""

from bot.cli import main

main()
