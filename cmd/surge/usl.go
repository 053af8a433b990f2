package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/sim/queueing"
)

func newUSLCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "usl", Short: "Universal Scalability Law: fit measurements, solve for load"}
	cmd.AddCommand(newUSLFitCmd(g), newUSLSolveCmd(g))
	return cmd
}

func newUSLFitCmd(g *globals) *cobra.Command {
	var predict string
	cmd := &cobra.Command{
		Use:   "fit FILE.csv [--predict 10,50,100]",
		Short: "Fit sigma, kappa, lambda to (load, throughput) points (CSV with a header load,throughput)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			pts, err := queueing.ReadPoints(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			loads, err := parseLoads(predict)
			if err != nil {
				return err
			}
			fit, err := queueing.FitUSL(pts)
			if err != nil {
				return err
			}
			return printFit(cmd, g, fit, loads)
		},
	}
	cmd.Flags().StringVar(&predict, "predict", "", "loads to predict throughput at, comma-separated")
	return cmd
}

func parseLoads(s string) ([]float64, error) {
	var out []float64
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x == "" {
			continue
		}
		v, err := strconv.ParseFloat(x, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("--predict: %q is not a positive load", x)
		}
		out = append(out, v)
	}
	return out, nil
}

func printFit(cmd *cobra.Command, g *globals, fit queueing.Fit, loads []float64) error {
	if g.json {
		return writeJSON(cmd.OutOrStdout(), reports.USLFitFigures(fit, loads))
	}
	reports.USLFitText(cmd.OutOrStdout(), fit, loads)
	return nil
}

func newUSLSolveCmd(g *globals) *cobra.Command {
	var u queueing.USL
	var target float64
	cmd := &cobra.Command{
		Use:   "solve --sigma S --kappa K --lambda L --throughput X",
		Short: "The least load that reaches a throughput, or that none does",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if u.Sigma < 0 || u.Sigma > 1 || u.Kappa < 0 || u.Lambda <= 0 || target <= 0 {
				return fmt.Errorf("need 0 <= sigma <= 1, kappa >= 0, lambda > 0 and a positive --throughput")
			}
			n, ok := u.Solve(target)
			out := cmd.OutOrStdout()
			if g.json {
				v := map[string]any{"reachable": ok, "throughput": target, "limit": u.Limit()}
				if ok {
					v["load"] = n
				}
				if math.IsInf(u.Limit(), 1) {
					v["limit"] = nil
				}
				writeJSON(out, v)
			} else if ok {
				fmt.Fprintf(out, "load %d reaches %.4g (throughput there %.4g)\n", n, target, u.Throughput(float64(n)))
			} else {
				fmt.Fprintf(out, "unreachable: the most this system gives is %.4g\n", u.Limit())
			}
			if !ok {
				return fmt.Errorf("throughput %g is unreachable (limit %.4g)", target, u.Limit())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&u.Sigma, "sigma", 0, "contention")
	f.Float64Var(&u.Kappa, "kappa", 0, "coherency")
	f.Float64Var(&u.Lambda, "lambda", 0, "throughput per unit of load")
	f.Float64Var(&target, "throughput", 0, "the throughput to reach")
	for _, n := range []string{"lambda", "throughput"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}
