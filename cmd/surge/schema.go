package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
)

func newSchemaCmd() *cobra.Command {
	ofProfile := false
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the scenario format (--profile: of capacity profiles), for editors",
		Long: `Prints the JSON Schema (draft 2020-12) of the scenario format, or with --profile of
capacity profiles. The repository keeps both as scenarios/surge.schema.json and
scenarios/capacity.schema.json; a scenario whose first line is
  # yaml-language-server: $schema=<path to>/surge.schema.json
is completed and checked as you type by editors with a YAML language server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if ofProfile {
				return enc.Encode(profile.Schema())
			}
			return enc.Encode(scenarios.Schema())
		},
	}
	cmd.Flags().BoolVar(&ofProfile, "profile", false, "the capacity profiles' schema")
	return cmd
}
