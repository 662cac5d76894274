// Package cliconfig layers settings for skiff's commands: a flag given on
// the command line wins over the SKIFF_<FLAG> environment variable, which
// wins over the config file (YAML, keys are flag names), which wins over
// the flag's default.
//
// It works on a pflag.FlagSet so that `skiff server` and `skiff agent`
// share one set of rules. It knows nothing about what the flags mean and
// must not import server or agent packages.
package cliconfig
