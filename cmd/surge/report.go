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
	var out, format string
	cmd := &cobra.Command{
		Use:   "report RUNDIR",
		Short: "Render a run directory again: html (default), text, json or junit",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := reports.Load(args[0])
			if err != nil {
				return err
			}
			render := map[string]func(io.Writer) error{
				"html":  func(w io.Writer) error { return reports.HTML(w, l.Run, l.Verdict) },
				"text":  func(w io.Writer) error { return reports.Text(w, l.Run, l.Verdict) },
				"json":  func(w io.Writer) error { return reports.JSON(w, l.Run, l.Verdict) },
				"junit": func(w io.Writer) error { return reports.JUnit(w, l.Run, l.Verdict) },
			}[format]
			if render == nil {
				return fmt.Errorf("--format: want html, text, json or junit, have %q", format)
			}
			for _, m := range l.Missing {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", m)
			}
			if out == "" && format == "html" {
				out = filepath.Join(args[0], reports.ReportHTML)
			}
			if out == "" || out == "-" {
				return render(cmd.OutOrStdout())
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
			fmt.Fprintln(cmd.OutOrStdout(), out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default: RUNDIR/report.html for html, stdout otherwise)")
	cmd.Flags().StringVar(&format, "format", "html", "html, text, json or junit")
	return cmd
}
