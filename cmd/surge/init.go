package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/rpc"
	"github.com/surgekit/surge/scenarios/scaffold"
)

func newInitCmd() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init (--openapi API.yaml | --har RECORDING.har | --proto SERVICE.proto... | --grpc grpc://HOST:PORT) [-o SCENARIO.yaml]",
		Short: "Scaffold a scenario from an OpenAPI 3 document, a HAR recording, or a gRPC service",
		Long: `Writes a scenario to start from: from an OpenAPI 3 document, one request template per
operation (path parameters read from a data file of their examples, example JSON bodies, the
first 2xx status documented) and a single-step journey per operation; from a HAR recording,
the requests to its first host in the order recorded as one journey, the recorded pauses as
think times (an Authorization header is read from $API_TOKEN, never copied); from a gRPC
service's .proto files (--proto, with --target its grpc:// URL) or its reflection service
(--grpc URL), a call per unary or server-streaming method with an example message, each its
own journey. A placeholder
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
	f.StringSliceVar(&o.protos, "proto", nil, "a gRPC service's .proto file (repeat, or comma-separate, for more)")
	f.StringVar(&o.grpc, "grpc", "", "a gRPC service to ask by its reflection service (grpc://HOST:PORT or grpcs://)")
	f.StringVarP(&o.out, "output", "o", "", "the scenario file to write (default: stdout)")
	f.StringVar(&o.name, "name", "", "the scenario's name (default: the API's title, or recorded)")
	f.StringVar(&o.target, "target", "", "the service's base URL (default: the document's first server, or the recording's host)")
	return cmd
}

type initOptions struct {
	openapi, har, out, name, target, grpc string
	protos                                []string
}

// initScenario is surge init: scaffold, check that the result validates,
// write it (and its parameters' data file).
func initScenario(o initOptions, stdout io.Writer) error {
	var sc *scaffold.Scaffold
	var err error
	switch {
	case count(o.openapi != "", o.har != "", len(o.protos) > 0, o.grpc != "") != 1:
		return errors.New("--openapi, --har, --proto or --grpc: give one")
	case o.openapi != "":
		sc, err = scaffold.FromOpenAPI(o.openapi)
	case o.har != "":
		sc, err = scaffold.FromHAR(o.har)
	default:
		sc, err = callsScaffold(o)
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

// callsScaffold is surge init for a gRPC service: its methods from .proto
// files (named in the scenario relative to where it is written) or from the
// service's reflection.
func callsScaffold(o initOptions) (*scaffold.Scaffold, error) {
	var m *rpc.Methods
	var err error
	var protos []string
	target, source := o.target, o.grpc
	if o.grpc != "" {
		u, err := url.Parse(o.grpc)
		if err != nil || (u.Scheme != "grpc" && u.Scheme != "grpcs") || u.Port() == "" {
			return nil, fmt.Errorf("--grpc: want grpc://HOST:PORT or grpcs://HOST:PORT, have %q", o.grpc)
		}
		var conf *tls.Config
		if u.Scheme == "grpcs" {
			conf = &tls.Config{ServerName: u.Hostname()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if m, err = rpc.Reflect(ctx, u.Host, conf, nil); err != nil {
			return nil, fmt.Errorf("--grpc: %w", err)
		}
		target = firstNonEmpty(target, o.grpc)
	} else {
		if m, err = rpc.Compile(context.Background(), ".", o.protos); err != nil {
			return nil, fmt.Errorf("--proto: %w", err)
		}
		source = strings.Join(o.protos, ", ")
		for _, p := range o.protos { // as the scenario will name them: relative to its own directory
			abs, _ := filepath.Abs(p)
			rel, err := filepath.Rel(filepath.Dir(firstNonEmpty(absOr(o.out), abs)), abs)
			if err != nil || strings.HasPrefix(rel, "..") { // a scenario reads only below its folder, or by absolute path
				rel = abs
			}
			protos = append(protos, rel)
		}
		target = firstNonEmpty(target, "grpc://127.0.0.1:50051")
	}
	var calls []scaffold.Call
	for _, e := range m.Callable() {
		calls = append(calls, scaffold.Call{Method: e.Method, Message: e.Message})
	}
	if len(calls) == 0 {
		return nil, fmt.Errorf("%s: no method surge can call (unary or server-streaming)", source)
	}
	return scaffold.FromCalls(source, target, protos, calls), nil
}

func absOr(p string) string {
	if p == "" {
		return ""
	}
	abs, _ := filepath.Abs(p)
	return abs
}

// count is how many of the conditions hold.
func count(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}
