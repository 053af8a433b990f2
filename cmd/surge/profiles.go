package main

import (
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
)

func newProfilesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "profile [NAME|FILE]",
		Short: "List the shipped capacity profiles, or check and show one",
		Long: `With no argument, lists the shipped capacity profiles. With a name or a YAML file,
validates that profile (errors name file, line and key) and shows its stages.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return printProfileList(cmd, g)
			}
			p, err := profiles.Load(args[0])
			if err != nil {
				return err
			}
			return printProfile(cmd, g, p)
		},
	}
}

func printProfileList(cmd *cobra.Command, g *globals) error {
	if g.json {
		return writeJSON(cmd.OutOrStdout(), map[string][]string{"profiles": profiles.Names()})
	}
	for _, n := range profiles.Names() {
		p, err := profiles.Load(n)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%-10s %s\n", n, p.Description)
	}
	return nil
}

func printProfile(cmd *cobra.Command, g *globals, p *profile.Profile) error {
	if g.json {
		return writeJSON(cmd.OutOrStdout(), p)
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "profile %s: %s\n\nSTAGE\tWORKERS\tQUEUE\tWHEN FULL\tQUEUE TIMEOUT\tSERVICE\tMEAN\tCAPACITY/s\n", p.Name, p.Description)
	for _, n := range p.StageNames() {
		s := p.Stages[n]
		capRate := "-"
		if m := s.Service.Mean().Seconds(); m > 0 {
			capRate = fmt.Sprintf("%.1f", float64(s.Workers)/m)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%v\t%s\t%v\t%s\n", n, s.Workers, s.Queue, firstNonEmpty(s.WhenFull, profile.WhenFullShed), s.QueueTimeout, s.Service, s.Service.Mean(), capRate)
	}
	return w.Flush()
}

// profileName is the profile a command uses: --profile as given (a file
// from the working directory, or a shipped name), else the scenario's
// target.profile (a relative file from the scenario's folder, as its data
// and TLS files are), else fallback.
func profileName(flag string, s *scenarios.Scenario, scenarioPath, fallback string) string {
	if flag != "" {
		return flag
	}
	name := s.Target.Profile
	if name == "" {
		return fallback
	}
	if profiles.IsFile(name) && !filepath.IsAbs(name) {
		return filepath.Join(filepath.Dir(scenarioPath), name)
	}
	return name
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
