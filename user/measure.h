/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MT_MEASURE_H
#define MT_MEASURE_H

/* `migtrace measure`: an explicit calc-dirty-rate window, measured in the kernel too. */
int mt_measure_main(int argc, char **argv);

#endif
