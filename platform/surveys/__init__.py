"""Engagement pulses: the four traits and eNPS, with anonymity that holds."""
