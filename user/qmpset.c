// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"
#include "options.h"
#include "qmpset.h"

static int grow(struct mt_qmpset *s)
{
	int cap = s->cap ? s->cap * 2 : 16;
	void *c, *g, *src, *st;

	if (s->n < s->cap)
		return 0;
	c = realloc(s->c, cap * sizeof(*s->c));
	if (c)
		s->c = c;
	g = realloc(s->globbed, cap * sizeof(*s->globbed));
	if (g)
		s->globbed = g;
	src = realloc(s->srcs, cap * sizeof(*s->srcs));
	if (src)
		s->srcs = src;
	st = realloc(s->stats, cap * sizeof(*s->stats));
	if (st)
		s->stats = st;
	if (!c || !g || !src || !st)
		return -ENOMEM;
	s->cap = cap;
	return 0;
}

int mt_qmpset__add(struct mt_qmpset *s, const char *path, int globbed)
{
	struct qmp_client_options qo = { .path = path,
					 .timeout_ns = s->timeout_ns,
					 .reconnect_ns = 1000000000ULL };
	struct qmp_client *c;

	if (s->n >= MT_MAX_QMP)
		return -E2BIG;
	if (grow(s))
		return -ENOMEM;
	c = qmp_client__new(s->loop, &qo);
	if (!c)
		return -errno;
	s->c[s->n] = c;
	s->globbed[s->n] = globbed;
	s->n++;
	mt_qmpset__refresh(s);
	return 0;
}

static int followed(const struct mt_qmpset *s, const char *path)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(qmp_client__path(s->c[i]), path))
			return 1;
	return 0;
}

static void remove_at(struct mt_qmpset *s, int i, struct mt_sampler *sampler)
{
	if (sampler)
		mt_sampler__forget(sampler, qmp_client__path(s->c[i]));
	qmp_client__free(s->c[i]);
	memmove(&s->c[i], &s->c[i + 1], (s->n - i - 1) * sizeof(*s->c));
	memmove(&s->globbed[i], &s->globbed[i + 1], (s->n - i - 1) * sizeof(*s->globbed));
	s->n--;
}

static int scan_one(struct mt_qmpset *s, const char *pattern)
{
	glob_t g;
	int changes = 0;

	if (glob(pattern, 0, NULL, &g))
		return 0; /* no match (yet) */
	for (size_t k = 0; k < g.gl_pathc; k++) {
		const char *path = g.gl_pathv[k];
		struct stat st;
		int err;

		if (stat(path, &st) || !S_ISSOCK(st.st_mode) || followed(s, path))
			continue;
		err = mt_qmpset__add(s, path, 1);
		if (!err) {
			log_info("following %s (matches %s)", path, pattern);
			changes++;
		} else if (!s->full_logged) {
			log_warn("cannot follow %s: %s", path,
				 err == -E2BIG ? "too many QMP sockets" : strerror(-err));
			s->full_logged = 1;
		}
	}
	globfree(&g);
	return changes;
}

int mt_qmpset__scan(struct mt_qmpset *s, const char *const *globs, int nglobs,
		    struct mt_sampler *sampler)
{
	int changes = 0;

	for (int i = s->n - 1; i >= 0; i--) {
		struct stat st;

		if (!s->globbed[i] || !stat(qmp_client__path(s->c[i]), &st))
			continue;
		log_info("%s is gone: no longer followed", qmp_client__path(s->c[i]));
		remove_at(s, i, sampler);
		changes++;
	}
	for (int i = 0; i < nglobs; i++)
		changes += scan_one(s, globs[i]);
	if (changes)
		mt_qmpset__refresh(s);
	return changes;
}

void mt_qmpset__tick(struct mt_qmpset *s, uint64_t now_ns)
{
	for (int i = 0; i < s->n; i++)
		qmp_client__tick(s->c[i], now_ns);
}

void mt_qmpset__refresh(struct mt_qmpset *s)
{
	for (int i = 0; i < s->n; i++) {
		s->srcs[i] = (struct mt_vm_src){
			.qmp_path = qmp_client__path(s->c[i]),
			.snap = qmp_client__snapshot(s->c[i]),
			.up = qmp_client__up(s->c[i]),
			.reason = qmp_client__reason(s->c[i]),
		};
		s->stats[i] = qmp_client__stats(s->c[i]);
	}
}

void mt_qmpset__free(struct mt_qmpset *s)
{
	for (int i = 0; i < s->n; i++)
		qmp_client__free(s->c[i]);
	free(s->c);
	free(s->globbed);
	free(s->srcs);
	free(s->stats);
	memset(s, 0, sizeof(*s));
}
