//! Parse a batch directory's aiperf artifacts and records into typed results.
//! STUB: filled in by the results work (issue 5).
