// Package rules embeds vakt's built-in detection rules: one YAML file per
// rule, documented in README.md. internal/report loads them (see
// report.LoadRules); a rules directory in the configuration (rules.dir)
// adds rules and overrides built-ins of the same name.
package rules

import "embed"

// FS holds the built-in rule files (*.yaml).
//
//go:embed *.yaml
var FS embed.FS
