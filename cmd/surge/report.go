package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reports"
)

func newReportCmd() *cobra.Command {
	var out, format, baseline, prediction string
	cmd := &cobra.Command{
		Use:   "report RUNDIR",
		Short: "Render a run directory again: html (default), text, json or junit",
		Long: `Render a run directory again: html (default), text, json or junit.

--baseline compares the run with an earlier run directory, metric by metric,
and flags regressions; --prediction overlays a surge sim directory of the same
scenario on the measurement, with the prediction's error. A comparison with a
run of another scenario (another name, file or played timeline) is flagged on
stderr and on the page.

The exit code is the run's verdict, as surge run gave it: 0 GO, 2 NO-GO, and 1
when the directory cannot be read or has no scenario.yaml to judge it by.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(reportOptions{dir: args[0], out: out, format: format, baseline: baseline, prediction: prediction},
				cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default: RUNDIR/report.html for html, stdout otherwise)")
	cmd.Flags().StringVar(&format, "format", "html", "html, text, json or junit")
	cmd.Flags().StringVar(&baseline, "baseline", "", "an earlier run directory to compare with (regressions flagged)")
	cmd.Flags().StringVar(&prediction, "prediction", "", "a surge sim directory of the same scenario to overlay")
	return cmd
}

// reportOptions are surge report's argument and flags.
type reportOptions struct{ dir, out, format, baseline, prediction string }

// report is surge report: load the run (and what it is compared with),
// render it, and return its verdict.
func report(o reportOptions, stdout, stderr io.Writer) error {
	l, err := reports.Load(o.dir)
	if err != nil {
		return err
	}
	rep := &reports.Report{Loaded: l}
	for _, c := range []struct {
		flag, dir string
		into      **reports.Loaded
	}{{"--baseline", o.baseline, &rep.Baseline}, {"--prediction", o.prediction, &rep.Prediction}} {
		if c.dir == "" {
			continue
		}
		if *c.into, err = reports.Load(c.dir); err != nil {
			return fmt.Errorf("%s: %w", c.flag, err)
		}
	}
	render := map[string]func(io.Writer) error{
		"html":  func(w io.Writer) error { return reports.HTML(w, rep) },
		"text":  func(w io.Writer) error { return reports.Text(w, rep) },
		"json":  func(w io.Writer) error { return reports.JSON(w, rep) },
		"junit": func(w io.Writer) error { return reports.JUnit(w, l.Run, l.Verdict) },
	}[o.format]
	if render == nil {
		return fmt.Errorf("--format: want html, text, json or junit, have %q", o.format)
	}
	for _, m := range l.Missing {
		fmt.Fprintln(stderr, "note:", m)
	}
	for _, w := range reports.Summarize(rep).Warnings {
		fmt.Fprintln(stderr, "WARNING:", w)
	}
	if o.out == "" && o.format == "html" {
		o.out = filepath.Join(o.dir, reports.ReportHTML)
	}
	if err := renderTo(stdout, o.out, render); err != nil {
		return err
	}
	return l.Verdict.Err()
}

// renderTo writes render's output to stdout (out "" or "-") or the file out.
func renderTo(stdout io.Writer, out string, render func(io.Writer) error) error {
	if out == "" || out == "-" {
		return render(stdout)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := render(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, out)
	return nil
}
