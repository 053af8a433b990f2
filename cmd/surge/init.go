package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/scaffold"
)

func newInitCmd() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init (--openapi API.yaml | --har RECORDING.har) [-o SCENARIO.yaml]",
		Short: "Scaffold a scenario from an OpenAPI 3 document or a HAR recording",
		Long: `Writes a scenario to start from: from an OpenAPI 3 document, one request template per
operation (path parameters read from a data file of their examples, example JSON bodies, the
first 2xx status documented) and a single-step journey per operation; from a HAR recording,
the requests to its first host in the order recorded as one journey, the recorded pauses as
think times (an Authorization header is read from $API_TOKEN, never copied). A placeholder
arrival curve and SLOs carry TODO comments saying what to fill in. The scenario validates as
written. With path parameters, -o is needed: their examples go to SCENARIO-params.csv beside it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return initScenario(o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.openapi, "openapi", "", "an OpenAPI 3 document (YAML or JSON)")
	f.StringVar(&o.har, "har", "", "a HAR recording (a browser's or a proxy's)")
	f.StringVarP(&o.out, "output", "o", "", "the scenario file to write (default: stdout)")
	f.StringVar(&o.name, "name", "", "the scenario's name (default: the API's title, or recorded)")
	f.StringVar(&o.target, "target", "", "the service's base URL (default: the document's first server, or the recording's host)")
	return cmd
}

type initOptions struct{ openapi, har, out, name, target string }

// initScenario is surge init: scaffold, check that the result validates,
// write it (and its parameters' data file).
func initScenario(o initOptions, stdout io.Writer) error {
	var sc *scaffold.Scaffold
	var err error
	switch {
	case (o.openapi == "") == (o.har == ""):
		return errors.New("--openapi or --har: give one")
	case o.openapi != "":
		sc, err = scaffold.FromOpenAPI(o.openapi)
	default:
		sc, err = scaffold.FromHAR(o.har)
	}
	if err != nil {
		return err
	}
	sc.Name, sc.Target = firstNonEmpty(o.name, sc.Name), firstNonEmpty(o.target, sc.Target)
	if len(sc.Params) > 0 && o.out == "" {
		return fmt.Errorf("-o: the API's paths have parameters (%s ...): give -o FILE, and their examples go to %s", sc.Params[0].Name, scaffold.ParamsFile("FILE.yaml"))
	}
	var b bytes.Buffer
	dataFile := filepath.Base(scaffold.ParamsFile(o.out))
	if err := sc.Write(&b, dataFile); err != nil {
		return err
	}
	if _, err := scenarios.Parse(firstNonEmpty(o.out, "scaffold.yaml"), b.Bytes()); err != nil {
		return fmt.Errorf("the scaffold does not validate (a bug in surge init): %w", err)
	}
	if o.out == "" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	if len(sc.Params) > 0 {
		var c bytes.Buffer
		w := csv.NewWriter(&c)
		var names, values []string
		for _, p := range sc.Params {
			names, values = append(names, p.Name), append(values, p.Example)
		}
		w.Write(names)
		w.Write(values)
		w.Flush()
		if err := os.WriteFile(scaffold.ParamsFile(o.out), c.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(o.out, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d requests, %d journeys; fill in its TODOs, then surge validate %s\n", o.out, len(sc.Requests), len(sc.Journeys), o.out)
	return nil
}
