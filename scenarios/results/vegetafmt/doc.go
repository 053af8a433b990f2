// Package vegetafmt reads and writes vegeta's results formats (gob, JSON
// and CSV, with vegeta's own encoders and decoders), beside the results
// codec: a run's every answer written as vegeta results (surge run --raw,
// Log), for vegeta report, vegeta plot and the tools built on them; and a
// vegeta attack's results read as a surge run (surge import, Import), so
// surge report and a scenario's gate judge a run vegeta made.
//
// Neither keeps a body or a header: they may hold credentials.
package vegetafmt
