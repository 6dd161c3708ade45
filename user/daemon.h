/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MT_DAEMON_H
#define MT_DAEMON_H

#include "options.h"

/* Run `migtrace serve` until a signal or --duration; returns the exit status. */
int mt_daemon_run(const struct mt_options *opts);

#endif
