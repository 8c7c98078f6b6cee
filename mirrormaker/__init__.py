"""mirrormaker."""
