"""The design advisor (``hvsim advise``): knobs with their allowed values and costs
(knobs), targets and objectives (targets), the search over the run executor with
Optuna (search), the number of DPM servers as a knob (scale_out) and what it writes
(outputs)."""
