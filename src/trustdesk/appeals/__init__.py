"""Appeals against enforcement decisions: statements of reasons, review, reversal, quality, transparency."""
