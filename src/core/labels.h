/*-------------------------------------------------------------------------
 *
 * labels.h
 *	  Label sets and the rules that turn what a client sent into the labels
 *	  of a stored series (spec §14.2-14.5, §16.4, §17): reserved labels,
 *	  service_name defaulting, profile type ids, relabel rules, validation
 *	  limits and series fingerprints.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_LABELS_H
#define PYRO_LABELS_H

#include "common.h"

typedef struct PyroLabel
{
	char	   *name;			/* NUL-terminated, owned by the set */
	char	   *value;
} PyroLabel;

typedef struct PyroLabelSet
{
	PyroLabel  *labels;
	size_t		n;
	size_t		cap;
} PyroLabelSet;

/* Limits of spec §17 (0 = unlimited). */
typedef struct PyroLabelLimits
{
	size_t		max_label_names;	/* per series, default 30 */
	size_t		max_name_length;	/* default 1024 */
	size_t		max_value_length;	/* default 2048 */
	uint64_t	max_sessions_per_series;	/* __session_id__: 0 deletes it, N
											 * keeps id mod N (spec API-2
											 * §5.3) */
} PyroLabelLimits;

extern void pyro_labels_init(PyroLabelSet *ls);
extern void pyro_labels_free(PyroLabelSet *ls);
extern bool pyro_labels_copy(PyroLabelSet *dst, const PyroLabelSet *src);

/* set (replace if present); returns false on OOM */
extern bool pyro_labels_set(PyroLabelSet *ls, const char *name, const char *value);
extern bool pyro_labels_set_n(PyroLabelSet *ls, const char *name, size_t name_len,
							  const char *value, size_t value_len);

/* append without looking for the name; returns false on OOM */
extern bool pyro_labels_append(PyroLabelSet *ls, const char *name, const char *value);

/*
 * A name that occurs more than once in ls (NULL if none), found in
 * O(n log n); NULL too when out of memory and *oom is then set.
 */
extern const char *pyro_labels_duplicate(const PyroLabelSet *ls, bool *oom);

/* add only if absent */
extern bool pyro_labels_add_missing(PyroLabelSet *ls, const char *name, const char *value);
extern const char *pyro_labels_get(const PyroLabelSet *ls, const char *name);
extern void pyro_labels_remove(PyroLabelSet *ls, const char *name);

/* sort by name (byte-wise); duplicate names stay adjacent */
extern void pyro_labels_sort(PyroLabelSet *ls);

/* 64-bit fingerprint of a sorted set */
extern uint64_t pyro_labels_fingerprint(const PyroLabelSet *ls);

/*
 * The distribution key of a (tenant, service_name): the column shard_key
 * of every big table (docs/scaling-out.md).  FNV-1a over the bytes of
 * both, each followed by a 0 byte, folded to 32 bits: the same on every
 * platform and release, since stored rows and their placement depend on it.
 */
extern int32_t pyro_shard_key(const char *tenant, size_t tenant_len,
							  const char *service, size_t service_len);

/* {"name":"value",...} in sorted order */
extern void pyro_labels_json(const PyroLabelSet *ls, PyroBuf *out);

/*
 * Profile type ids: name:sample_type:sample_unit:period_type:period_unit.
 * Parsing accepts 5 parts (6 tolerated, the 6th ignored).  parts[] point
 * into a copy owned by *storage (free with pyro_free).
 */
typedef struct PyroProfileType
{
	char	   *id;				/* canonical 5-part id */
	char	   *name;
	char	   *sample_type;
	char	   *sample_unit;
	char	   *period_type;
	char	   *period_unit;
	char	   *storage;		/* private */
} PyroProfileType;

extern PyroStatus pyro_profile_type_parse(const char *s, size_t len,
										  PyroProfileType *out, PyroError *err);
extern void pyro_profile_type_free(PyroProfileType *pt);

/*
 * Build the labels of one stored series (spec §14.3, §16.1 step 6, §16.4).
 *	client: the labels the client sent (may contain __name__, service_name,
 *	__delta__ ...); sample_labels: the string pprof sample labels of this
 *	split group (client labels win on conflict).  service_name defaults to
 *	"unknown_service" and __name__ to default_name (e.g. "process_cpu")
 *	when absent.  Validates against limits before the server-set labels are
 *	added.  On success *out holds the sorted set and *profile_type_id a
 *	newly allocated id string.
 */
extern PyroStatus pyro_series_labels(const PyroLabelSet *client,
									 const PyroLabelSet *sample_labels,
									 const char *default_name,
									 const char *sample_type, const char *sample_unit,
									 const char *period_type, const char *period_unit,
									 const PyroLabelLimits *limits,
									 PyroLabelSet *out, char **profile_type_id,
									 PyroError *err);

/* Whether a label name is a "legacy" Prometheus name [a-zA-Z_][a-zA-Z0-9_]*. */
extern bool pyro_label_name_is_legacy(const char *s, size_t len);

#endif							/* PYRO_LABELS_H */
