"""The design advisor: searches knobs of a scenario for a design that meets targets."""
