"""Speech models: the catalogue, where they are installed, and ``libra models``."""
