/* SPDX-License-Identifier: GPL-2.0-only */
/* What the running kernel offers: BTF (vmlinux + modules), tracepoints, tracefs. */
#ifndef MT_KFEAT_H
#define MT_KFEAT_H

#define MT_KFEAT_MAX_MODS 8

struct btf;

struct mt_kfeat {
	struct btf *vmlinux;
	struct btf *mods[MT_KFEAT_MAX_MODS]; /* KVM modules' split BTF, if KVM is a module */
	char mod_names[MT_KFEAT_MAX_MODS][32];
	int nmods;
};

/* Load vmlinux BTF and the BTF of the KVM modules present. 0 or -errno. */
int mt_kfeat__load(struct mt_kfeat *k);
void mt_kfeat__free(struct mt_kfeat *k);
/* Number of TP_PROTO arguments of a tracepoint (from btf_trace_<name>), -ENOENT if absent. */
int mt_kfeat__tp_nargs(const struct mt_kfeat *k, const char *tp);
/* 1 if struct `name` exists in any loaded BTF (e.g. trace_event_raw_<tp>). */
int mt_kfeat__has_struct(const struct mt_kfeat *k, const char *name);
/* Value of an enumerator (named or anonymous enum). 0 or -ENOENT. */
int mt_kfeat__enum_value(const struct mt_kfeat *k, const char *enumerator, long long *ret_val);

/* Directory holding tracefs events/ (e.g. /sys/kernel/tracing), or NULL if unmounted. */
const char *mt_tracefs_dir(void);
#define MT_TRACEFS "/sys/kernel/tracing"
/* Mount tracefs on MT_TRACEFS if no tracefs is mounted: 1 if we mounted it,
 * 0 if one was there, -errno. */
int mt_tracefs_ensure(void);
/* Undo a mount made by mt_tracefs_ensure() (once classic tracepoints are attached). */
void mt_tracefs_release(void);

#endif
