// SPDX-License-Identifier: GPL-2.0-only
/* migtrace: see why a live migration converges, or does not. */
#include <stdio.h>
#include <string.h>
#include "check.h"
#include "daemon.h"
#include "log.h"
#include "measure.h"
#include "options.h"

struct cmd {
	const char *name;
	int (*func)(int argc, char **argv);
	const char *help;
};

static int cmd_serve(int argc, char **argv)
{
	struct mt_options opts;
	char name[] = "migtrace serve"; /* what argp's usage line names */

	argv[0] = name;
	if (mt_options_parse(argc, argv, 0, &opts))
		return 64;
	if (opts.verbose)
		mt_log_set_level(MT_LOG_DEBUG);
	return mt_daemon_run(&opts);
}

static int cmd_version(int argc, char **argv)
{
	printf("migtrace %s\n", MIGTRACE_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct cmd cmds[] = {
	{ "serve", cmd_serve, "trace KVM dirty logging + QMP, serve metrics on a Unix socket" },
	{ "check", mt_check_main,
	  "report what migtrace can use on this machine (BTF, tracepoints, privileges, KVM)" },
	{ "measure", mt_measure_main,
	  "outside a migration: a calc-dirty-rate window, measured in the kernel too" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "this list; `migtrace COMMAND --help` for a command's options" },
};

static int cmd_help(int argc, char **argv)
{
	printf("Usage: migtrace COMMAND [OPTION...]\n\n"
	       "See why a QEMU/KVM live migration converges, or does not.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %-8s %s\n", cmds[i].name, cmds[i].help);
	return 0;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "help";

	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		name = "help";
	if (!strcmp(name, "--version") || !strcmp(name, "-V"))
		name = "version";
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(name, cmds[i].name))
			return cmds[i].func(argc > 1 ? argc - 1 : argc, argc > 1 ? argv + 1 : argv);
	fprintf(stderr, "migtrace: unknown command '%s'; try `migtrace help`\n", name);
	return 64;
}
