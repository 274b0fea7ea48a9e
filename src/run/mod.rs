//! Execute a plan: managed aiperf venv, server lifecycle, one aiperf per combination, records.
//! STUB: filled in by the run work (issue 4).
