package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	flag "github.com/spf13/pflag"
)

const rootLong = `vakt: privacy-aware web access-log pipeline.

Flags may come before or after a command's arguments ("vakt import access.log
--data-dir d"); "--" ends the flags. The configuration is read from a YAML file
(--config), then VAKT_* environment variables (VAKT_DATA_DIR, VAKT_LOG_LEVEL...),
then flags.`

// newRoot builds the command tree from the registry (register in cmd_*.go).
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var c common
	root := &cobra.Command{
		Use:           "vakt",
		Short:         "privacy-aware web access-log pipeline",
		Long:          rootLong,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Root runs only to explain what is missing: no command, or an
		// unknown one.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				cmd.SetOut(stderr)
				_ = cmd.Help()
				return errUsageShown
			}
			hint := ""
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				hint = ", did you mean " + strings.Join(s, " or ") + "?"
			}
			return fmt.Errorf("%w: unknown command %q%s (vakt --help lists the commands)", errUsage, args[0], hint)
		},
	}
	root.SuggestionsMinimumDistance = 2
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("vakt {{.Version}}\n")
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable .HasParent}}", 1))
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w: %s: %v (see %s --help)", errUsage, cmd.CommandPath(), err, cmd.CommandPath())
	})
	c.register(root.PersistentFlags())
	_ = root.MarkPersistentFlagFilename("config", "yaml", "yml")
	_ = root.MarkPersistentFlagDirname("data-dir")
	completeWords(root, "log-level", "debug", "info", "warn", "error")
	completeWords(root, "log-format", "text", "json")

	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		root.AddCommand(newCommand(commands[n], &c, stdout, stderr))
	}
	return root
}

// newCommand is a registered command as a cobra command. A subcommand
// command's words become sub-commands with the same flags; the command
// itself still takes any word, for run to judge.
func newCommand(cmd *command, c *common, stdout, stderr io.Writer) *cobra.Command {
	words, rest := subWords(cmd)
	cc := &cobra.Command{
		Use:                   strings.TrimSpace(cmd.name + " " + cmd.args),
		Short:                 cmd.summary,
		Long:                  longHelp(cmd),
		Example:               examples(cmd, ""),
		DisableFlagsInUseLine: true,
	}
	runWith(cc, cmd, c, "", stdout, stderr)
	for _, w := range words {
		// The synopsis after the words is the sub-command's only when
		// there is one word: with more, its parts may belong to any.
		use := w
		if len(words) == 1 {
			use = strings.TrimSpace(w + " " + rest)
		}
		sc := &cobra.Command{
			Use:                   use,
			Short:                 cmd.name + " " + w,
			Long:                  longHelp(cmd),
			Example:               examples(cmd, w),
			DisableFlagsInUseLine: len(words) == 1,
		}
		runWith(sc, cmd, c, w, stdout, stderr)
		cc.AddCommand(sc)
	}
	return cc
}

// runWith gives cc the command's flags, each cobra command its own
// options, and makes it run the command; word, if any, becomes args[0].
func runWith(cc *cobra.Command, cmd *command, c *common, word string, stdout, stderr io.Writer) {
	opts := &options{extra: map[string]any{}}
	cc.Flags().SortFlags = false
	if cmd.flags != nil {
		cmd.flags(cc.Flags(), opts)
	}
	completeFormats(cc)
	cc.RunE = func(cc *cobra.Command, args []string) error {
		if word != "" {
			args = append([]string{word}, args...)
		}
		return start(cc.Context(), cmd, c, opts, args, stdout, stderr)
	}
}

var wordRe = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// subWords are the words a subcommand command lists first in its args
// ("status|rotate [--format F]" → status, rotate) and the rest of args.
func subWords(cmd *command) (words []string, rest string) {
	if !cmd.subcommand {
		return nil, ""
	}
	first, rest, _ := strings.Cut(strings.TrimSpace(cmd.args), " ")
	for _, w := range strings.Split(first, "|") {
		if !wordRe.MatchString(w) {
			return nil, ""
		}
		words = append(words, w)
	}
	return words, strings.TrimSpace(rest)
}

// examples is the command's example text; for a sub-command word, only
// the examples that use it. A command without examples shows its synopsis.
func examples(cmd *command, word string) string {
	text := cmd.example
	if text == "" {
		text = commandExamples[cmd.name]
	}
	if text == "" {
		return "  vakt " + strings.TrimSpace(cmd.name+" "+cmd.args)
	}
	if word == "" {
		return strings.TrimRight(text, "\n")
	}
	var out, block []string
	prefix := "vakt " + cmd.name + " " + word
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		block = append(block, l)
		if strings.HasPrefix(t, "#") {
			continue
		}
		if t == prefix || strings.HasPrefix(t, prefix+" ") {
			out = append(out, block...)
		}
		block = nil
	}
	if len(out) == 0 {
		return "  " + prefix
	}
	return strings.Join(out, "\n")
}

// longHelp is what --help says above the usage.
func longHelp(cmd *command) string {
	if cmd.long != "" {
		return strings.TrimRight(cmd.long, "\n")
	}
	return capitalize(cmd.summary) + "."
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// completeWords makes the shell complete a persistent flag's value from a
// fixed list.
func completeWords(root *cobra.Command, flagName string, words ...string) {
	_ = root.RegisterFlagCompletionFunc(flagName, cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
}

// completeFormats completes a --format flag with the output formats its
// help names.
func completeFormats(cc *cobra.Command) {
	f := cc.Flags().Lookup("format")
	if f == nil {
		return
	}
	var words []string
	for _, w := range []string{"table", "text", "json", "csv", "tsv"} {
		if regexp.MustCompile(`\b` + w + `\b`).MatchString(f.Usage) {
			words = append(words, w)
		}
	}
	_ = cc.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
}

// longFlagsWithOneDash rewrites "-data-dir d" to "--data-dir d" for every
// long flag vakt knows: the standard flag package, which vakt used
// before, took either, and scripts may still use one dash. Arguments after
// "--" are left alone.
func longFlagsWithOneDash(root *cobra.Command, args []string) []string {
	long := map[string]bool{"help": true, "version": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *flag.Flag) { long[f.Name] = true }
		c.Flags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := append([]string{}, args...) // never nil: cobra reads os.Args then
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) > 1 && long[name] {
			out[i] = "-" + a
		}
	}
	return out
}
