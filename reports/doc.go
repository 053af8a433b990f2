// Package reports turns a run (measured or predicted) into a decision: the
// verdict of the scenario's gate, clause by clause, and the documents a
// review reads — a text summary, a JSON summary, JUnit XML for CI and a
// self-contained HTML report — written into the run directory.
//
// It reads only the scenario and the results format, never the live engine,
// so `surge report` can render any run directory again later.
package reports
