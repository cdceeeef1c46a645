"""The console transport (``libra chat``): a conversation in the terminal, beside Discord."""
