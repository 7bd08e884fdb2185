"""Rich renderings for people, and the --json documents for scripts, of what the CLI (and the demo)
shows: one module per thing shown, all printing through the consoles and tables of ``tables``."""
