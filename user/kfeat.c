// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel feature probes, run before any BPF object is loaded: a program whose
 * CO-RE relocations cannot be resolved fails the whole object's load, so the
 * choice between raw_tp, classic tracepoint and nothing is made here, from BTF.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/btf.h>
#include "kfeat.h"

/* KVM's tracepoints live in these modules when KVM is not built in. */
static const char *const kvm_modules[] = { "kvm", "kvm_intel", "kvm_amd", "kvm_pvm" };

int mt_kfeat__load(struct mt_kfeat *k)
{
	memset(k, 0, sizeof(*k));
	k->vmlinux = btf__load_vmlinux_btf();
	if (!k->vmlinux)
		return -errno;
	for (size_t i = 0; i < sizeof(kvm_modules) / sizeof(kvm_modules[0]); i++) {
		char path[64];
		struct btf *b;

		snprintf(path, sizeof(path), "/sys/kernel/btf/%s", kvm_modules[i]);
		if (access(path, R_OK) || k->nmods >= MT_KFEAT_MAX_MODS)
			continue;
		b = btf__load_module_btf(kvm_modules[i], k->vmlinux);
		if (!b)
			continue;
		k->mods[k->nmods] = b;
		snprintf(k->mod_names[k->nmods], sizeof(k->mod_names[0]), "%s", kvm_modules[i]);
		k->nmods++;
	}
	return 0;
}

void mt_kfeat__free(struct mt_kfeat *k)
{
	if (!k)
		return;
	for (int i = 0; i < k->nmods; i++)
		btf__free(k->mods[i]);
	btf__free(k->vmlinux);
	memset(k, 0, sizeof(*k));
}

/* Look a name up in every loaded BTF; split module BTF also covers vmlinux. */
static int find_any(const struct mt_kfeat *k, const char *name, __u32 kind,
		    const struct btf **ret_btf)
{
	int id;

	for (int i = 0; i < k->nmods; i++) {
		id = btf__find_by_name_kind(k->mods[i], name, kind);
		if (id > 0) {
			*ret_btf = k->mods[i];
			return id;
		}
	}
	if (!k->vmlinux)
		return -ENOENT;
	id = btf__find_by_name_kind(k->vmlinux, name, kind);
	if (id > 0)
		*ret_btf = k->vmlinux;
	return id > 0 ? id : -ENOENT;
}

int mt_kfeat__tp_nargs(const struct mt_kfeat *k, const char *tp)
{
	const struct btf *btf = NULL;
	const struct btf_type *t;
	char name[128];
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = find_any(k, name, BTF_KIND_TYPEDEF, &btf);
	if (id < 0)
		return id;
	/* typedef -> pointer -> func_proto(void *__data, args...) */
	t = btf__type_by_id(btf, id);
	t = t ? btf__type_by_id(btf, t->type) : NULL;
	if (!t || !btf_is_ptr(t))
		return -ENOENT;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1)
		return -ENOENT;
	return btf_vlen(t) - 1;
}

int mt_kfeat__has_struct(const struct mt_kfeat *k, const char *name)
{
	const struct btf *btf;

	return find_any(k, name, BTF_KIND_STRUCT, &btf) > 0;
}

static int enum_in(const struct btf *btf, const char *enumerator, long long *ret_val)
{
	__u32 n = btf__type_cnt(btf);

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_enum *e;

		if (!t || !btf_is_enum(t))
			continue;
		e = btf_enum(t);
		for (int i = 0; i < btf_vlen(t); i++, e++) {
			if (!strcmp(btf__name_by_offset(btf, e->name_off), enumerator)) {
				*ret_val = e->val;
				return 0;
			}
		}
	}
	return -ENOENT;
}

int mt_kfeat__enum_value(const struct mt_kfeat *k, const char *enumerator, long long *ret_val)
{
	for (int i = 0; i < k->nmods; i++)
		if (!enum_in(k->mods[i], enumerator, ret_val))
			return 0;
	return k->vmlinux ? enum_in(k->vmlinux, enumerator, ret_val) : -ENOENT;
}

const char *mt_tracefs_dir(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	struct stat st;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[64];

		snprintf(path, sizeof(path), "%s/events", dirs[i]);
		if (!stat(path, &st) && S_ISDIR(st.st_mode))
			return dirs[i];
	}
	return NULL;
}

int mt_tracefs_ensure(void)
{
	if (mt_tracefs_dir())
		return 0;
	if (mount("tracefs", MT_TRACEFS, "tracefs", 0, NULL))
		return -errno;
	return 1;
}

void mt_tracefs_release(void)
{
	/* Attached perf events keep their tracepoints; the mount is not needed. */
	umount2(MT_TRACEFS, MNT_DETACH);
}
