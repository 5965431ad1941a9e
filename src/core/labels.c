/*-------------------------------------------------------------------------
 *
 * labels.c
 *	  Label sets, profile type ids, and the rules that turn the labels a
 *	  client sent into the labels of a stored series (spec §14.2-14.5,
 *	  §16.4, §17).
 *
 *-------------------------------------------------------------------------
 */
#include "labels.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

/* Longest label name or value quoted in an error message. */
#define LABEL_QUOTE_MAX 64

void
pyro_labels_init(PyroLabelSet *ls)
{
	ls->labels = NULL;
	ls->n = 0;
	ls->cap = 0;
}

void
pyro_labels_free(PyroLabelSet *ls)
{
	for (size_t i = 0; i < ls->n; i++)
	{
		pyro_free(ls->labels[i].name);
		pyro_free(ls->labels[i].value);
	}
	pyro_free(ls->labels);
	pyro_labels_init(ls);
}

/* Append a label (no duplicate check); takes copies of name and value. */
static bool
labels_append(PyroLabelSet *ls, const char *name, size_t name_len,
			  const char *value, size_t value_len)
{
	char	   *n;
	char	   *v;

	if (!pyro_grow((void **) &ls->labels, &ls->cap, ls->n + 1, sizeof(PyroLabel)))
		return false;
	n = pyro_strndup(name, name_len);
	v = pyro_strndup(value, value_len);
	if (n == NULL || v == NULL)
	{
		pyro_free(n);
		pyro_free(v);
		return false;
	}
	ls->labels[ls->n].name = n;
	ls->labels[ls->n].value = v;
	ls->n++;
	return true;
}

bool
pyro_labels_append(PyroLabelSet *ls, const char *name, const char *value)
{
	return labels_append(ls, name, strlen(name), value, strlen(value));
}

static int
name_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

const char *
pyro_labels_duplicate(const PyroLabelSet *ls, bool *oom)
{
	const char **names;
	const char *dup = NULL;

	*oom = false;
	if (ls->n < 2)
		return NULL;
	names = pyro_malloc(ls->n * sizeof(const char *));
	if (names == NULL)
	{
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < ls->n; i++)
		names[i] = ls->labels[i].name;
	qsort(names, ls->n, sizeof(const char *), name_ptr_cmp);
	for (size_t i = 1; i < ls->n && dup == NULL; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			dup = names[i];
	pyro_free(names);
	return dup;
}

/*
 * Copy src into dst.  dst is (re)initialised first, so it must not hold
 * labels of its own.  Duplicate names in src are kept (validation reports
 * them).  On failure dst is left empty.
 */
bool
pyro_labels_copy(PyroLabelSet *dst, const PyroLabelSet *src)
{
	pyro_labels_init(dst);
	if (src == NULL || src->n == 0)
		return true;
	if (!pyro_grow((void **) &dst->labels, &dst->cap, src->n, sizeof(PyroLabel)))
		return false;
	for (size_t i = 0; i < src->n; i++)
	{
		const PyroLabel *l = &src->labels[i];

		if (!labels_append(dst, l->name, strlen(l->name), l->value, strlen(l->value)))
		{
			pyro_labels_free(dst);
			return false;
		}
	}
	return true;
}

static ssize_t
labels_find(const PyroLabelSet *ls, const char *name, size_t name_len)
{
	for (size_t i = 0; i < ls->n; i++)
	{
		const char *n = ls->labels[i].name;

		if (strncmp(n, name, name_len) == 0 && n[name_len] == '\0')
			return (ssize_t) i;
	}
	return -1;
}

/* Set name=value, replacing the value of the first label with that name. */
bool
pyro_labels_set_n(PyroLabelSet *ls, const char *name, size_t name_len,
				  const char *value, size_t value_len)
{
	ssize_t		i = labels_find(ls, name, name_len);

	if (i >= 0)
	{
		char	   *v = pyro_strndup(value, value_len);

		if (v == NULL)
			return false;
		pyro_free(ls->labels[i].value);
		ls->labels[i].value = v;
		return true;
	}
	return labels_append(ls, name, name_len, value, value_len);
}

bool
pyro_labels_set(PyroLabelSet *ls, const char *name, const char *value)
{
	return pyro_labels_set_n(ls, name, strlen(name), value, strlen(value));
}

bool
pyro_labels_add_missing(PyroLabelSet *ls, const char *name, const char *value)
{
	size_t		nl = strlen(name);

	if (labels_find(ls, name, nl) >= 0)
		return true;
	return labels_append(ls, name, nl, value, strlen(value));
}

const char *
pyro_labels_get(const PyroLabelSet *ls, const char *name)
{
	ssize_t		i = labels_find(ls, name, strlen(name));

	return i >= 0 ? ls->labels[i].value : NULL;
}

/* Remove every label called name, keeping the order of the others. */
void
pyro_labels_remove(PyroLabelSet *ls, const char *name)
{
	size_t		j = 0;

	for (size_t i = 0; i < ls->n; i++)
	{
		if (strcmp(ls->labels[i].name, name) == 0)
		{
			pyro_free(ls->labels[i].name);
			pyro_free(ls->labels[i].value);
			continue;
		}
		ls->labels[j++] = ls->labels[i];
	}
	ls->n = j;
}

static int
label_cmp(const void *a, const void *b)
{
	const PyroLabel *x = a;
	const PyroLabel *y = b;
	int			c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/*
 * Sort by name (byte-wise, as strcmp on unsigned chars does); labels with
 * the same name are ordered by value so that the result is deterministic.
 */
void
pyro_labels_sort(PyroLabelSet *ls)
{
	if (ls->n > 1)
		qsort(ls->labels, ls->n, sizeof(PyroLabel), label_cmp);
}

/*
 * Fingerprint of a sorted set.  Each name and value is preceded by its
 * length so that no two different sets hash the same input sequence
 * ({"ab":"c"} vs {"a":"bc"}).
 */
uint64_t
pyro_labels_fingerprint(const PyroLabelSet *ls)
{
	uint64_t	h = 0x6c616265ULL ^ (uint64_t) ls->n;

	for (size_t i = 0; i < ls->n; i++)
	{
		size_t		nl = strlen(ls->labels[i].name);
		size_t		vl = strlen(ls->labels[i].value);

		h = pyro_hash_mix(h, (uint64_t) nl);
		h = pyro_hash_bytes(ls->labels[i].name, nl, h);
		h = pyro_hash_mix(h, (uint64_t) vl);
		h = pyro_hash_bytes(ls->labels[i].value, vl, h);
	}
	return h;
}

int32_t
pyro_shard_key(const char *tenant, size_t tenant_len,
			   const char *service, size_t service_len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;	/* FNV-1a 64 offset basis */
	const char *parts[2] = {tenant, service};
	size_t		lens[2] = {tenant_len, service_len};

	for (int k = 0; k < 2; k++)
	{
		for (size_t i = 0; i < lens[k]; i++)
		{
			h ^= (unsigned char) parts[k][i];
			h *= 0x100000001b3ULL;
		}
		h ^= 0;					/* the separator byte */
		h *= 0x100000001b3ULL;
	}
	return (int32_t) (uint32_t) (h ^ (h >> 32));
}

static int
label_ptr_cmp(const void *a, const void *b)
{
	return label_cmp(*(const PyroLabel *const *) a, *(const PyroLabel *const *) b);
}

/*
 * Write {"name":"value",...} with the labels in sorted order.  An unsorted
 * set is sorted through a temporary index; on allocation failure out->oom
 * is set.
 */
void
pyro_labels_json(const PyroLabelSet *ls, PyroBuf *out)
{
	const PyroLabel **order = NULL;
	bool		sorted = true;

	for (size_t i = 1; i < ls->n && sorted; i++)
		if (label_cmp(&ls->labels[i - 1], &ls->labels[i]) > 0)
			sorted = false;
	if (!sorted)
	{
		order = pyro_calloc(ls->n, sizeof(*order));
		if (order == NULL)
		{
			out->oom = true;
			return;
		}
		for (size_t i = 0; i < ls->n; i++)
			order[i] = &ls->labels[i];
		qsort(order, ls->n, sizeof(*order), label_ptr_cmp);
	}

	pyro_buf_append_byte(out, '{');
	for (size_t i = 0; i < ls->n; i++)
	{
		const PyroLabel *l = order ? order[i] : &ls->labels[i];

		if (i > 0)
			pyro_buf_append_byte(out, ',');
		pyro_buf_append_json_str(out, l->name, strlen(l->name));
		pyro_buf_append_byte(out, ':');
		pyro_buf_append_json_str(out, l->value, strlen(l->value));
	}
	pyro_buf_append_byte(out, '}');
	pyro_free(order);
}

bool
pyro_label_name_is_legacy(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];
		bool		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		(i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return false;
	}
	return true;
}

/*
 * Length of the prefix of s (at most LABEL_QUOTE_MAX bytes) that can be
 * quoted in an error message without splitting a UTF-8 sequence.  The
 * caller has checked that s is valid UTF-8.
 */
static int
quote_len(const char *s, size_t len)
{
	size_t		n = len;

	if (n <= LABEL_QUOTE_MAX)
		return (int) n;
	n = LABEL_QUOTE_MAX;
	while (n > 0 && (((unsigned char) s[n]) & 0xC0) == 0x80)
		n--;
	return (int) n;
}

/* ---------------------------------------------------------------------
 * Profile type ids
 * ---------------------------------------------------------------------
 */

/*
 * Parse "name:sample_type:sample_unit:period_type:period_unit".  A sixth
 * part (historically ":delta") is tolerated and dropped from the canonical
 * id.  The name must not be empty; the other parts may be.
 */
PyroStatus
pyro_profile_type_parse(const char *s, size_t len, PyroProfileType *out,
						PyroError *err)
{
	char	   *parts[6];
	size_t		nparts = 1;
	size_t		idlen;
	char	   *buf;
	size_t		bufsize;
	int			ql;

	memset(out, 0, sizeof(*out));
	if (memchr(s, '\0', len) != NULL || !pyro_utf8_valid(s, len))
		return pyro_error_set(err, PYRO_EINVAL,
							  "invalid profile type id: not a valid UTF-8 string");
	ql = quote_len(s, len);
	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			nparts++;
	if (nparts != 5 && nparts != 6)
		return pyro_error_set(err, PYRO_EINVAL,
							  "invalid profile type id \"%.*s\": expected 5 colon-separated parts",
							  ql, s);

	/* storage: the split copy, then the canonical id */
	if (!pyro_size_mul(len + 1, 2, &bufsize))
		return pyro_error_set(err, PYRO_ENOMEM, "profile type id too long");
	buf = pyro_malloc(bufsize);
	if (buf == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory parsing a profile type id");
	memcpy(buf, s, len);
	buf[len] = '\0';
	parts[0] = buf;
	nparts = 1;
	for (size_t i = 0; i < len; i++)
	{
		if (buf[i] == ':')
		{
			buf[i] = '\0';
			parts[nparts++] = buf + i + 1;
		}
	}
	if (parts[0][0] == '\0')
	{
		pyro_free(buf);
		return pyro_error_set(err, PYRO_EINVAL,
							  "invalid profile type id \"%.*s\": the name is empty",
							  ql, s);
	}

	/* canonical id: the first five parts */
	idlen = (nparts == 6) ? (size_t) (parts[5] - buf - 1) : len;
	out->id = buf + len + 1;
	memcpy(out->id, s, idlen);
	out->id[idlen] = '\0';

	out->name = parts[0];
	out->sample_type = parts[1];
	out->sample_unit = parts[2];
	out->period_type = parts[3];
	out->period_unit = parts[4];
	out->storage = buf;
	return PYRO_OK;
}

void
pyro_profile_type_free(PyroProfileType *pt)
{
	pyro_free(pt->storage);
	memset(pt, 0, sizeof(*pt));
}

/* ---------------------------------------------------------------------
 * Series labels
 * ---------------------------------------------------------------------
 */

/*
 * Validate a label set against spec §17.  Runs before the server-set
 * labels are added, so the name count is what the client (and splitting,
 * and the defaults) contributed.  Duplicates are found on a sorted set.
 */
static PyroStatus
validate_labels(PyroLabelSet *ls, const PyroLabelLimits *limits, PyroError *err)
{
	const char *name;

	if (ls->n == 0)
		return pyro_error_set(err, PYRO_EINVAL, "label set is empty");
	if (limits && limits->max_label_names && ls->n > limits->max_label_names)
		return pyro_error_set(err, PYRO_EINVAL,
							  "series has %zu labels, more than the limit of %zu",
							  ls->n, limits->max_label_names);
	for (size_t i = 0; i < ls->n; i++)
	{
		const char *n = ls->labels[i].name;
		const char *v = ls->labels[i].value;
		size_t		nl = strlen(n);
		size_t		vl = strlen(v);

		if (nl == 0)
			return pyro_error_set(err, PYRO_EINVAL, "label name is empty");
		if (!pyro_utf8_valid(n, nl))
			return pyro_error_set(err, PYRO_EINVAL, "label name is not valid UTF-8");
		if (limits && limits->max_name_length && nl > limits->max_name_length)
			return pyro_error_set(err, PYRO_EINVAL,
								  "label name \"%.*s...\" is %zu bytes long, more than the limit of %zu",
								  quote_len(n, nl), n, nl, limits->max_name_length);
		if (!pyro_utf8_valid(v, vl))
			return pyro_error_set(err, PYRO_EINVAL,
								  "value of label \"%.*s\" is not valid UTF-8",
								  quote_len(n, nl), n);
		if (limits && limits->max_value_length && vl > limits->max_value_length)
			return pyro_error_set(err, PYRO_EINVAL,
								  "value of label \"%.*s\" is %zu bytes long, more than the limit of %zu",
								  quote_len(n, nl), n, vl, limits->max_value_length);
	}

	pyro_labels_sort(ls);
	for (size_t i = 1; i < ls->n; i++)
	{
		if (strcmp(ls->labels[i - 1].name, ls->labels[i].name) == 0)
		{
			name = ls->labels[i].name;
			return pyro_error_set(err, PYRO_EINVAL, "duplicate label name \"%.*s\"",
								  quote_len(name, strlen(name)), name);
		}
	}

	name = pyro_labels_get(ls, "__name__");
	if (name == NULL || name[0] == '\0')
		return pyro_error_set(err, PYRO_EINVAL, "label \"__name__\" is missing or empty");
	return PYRO_OK;
}

/*
 * Build the labels of one stored series; see labels.h.  The order follows
 * spec §16.1: client labels, then the split sample labels the client did
 * not set, the service_name and __name__ defaults, the default relabel
 * rules (§16.4), validation (§17), removal of the internal labels, and
 * finally the server-set labels, which overwrite whatever the client sent
 * under those names.
 */
PyroStatus
pyro_series_labels(const PyroLabelSet *client,
				   const PyroLabelSet *sample_labels,
				   const char *default_name,
				   const char *sample_type, const char *sample_unit,
				   const char *period_type, const char *period_unit,
				   const PyroLabelLimits *limits,
				   PyroLabelSet *out, char **profile_type_id,
				   PyroError *err)
{
	static const char *const server_labels[] = {
		"__profile_type__", "__type__", "__unit__", "__period_type__",
		"__period_unit__", "__service_name__"
	};
	PyroLabelSet ls;
	PyroStatus	st;
	const char *v;
	char	   *name = NULL;
	char	   *id = NULL;
	size_t		idlen;

	pyro_labels_init(out);
	*profile_type_id = NULL;
	sample_type = sample_type ? sample_type : "";
	sample_unit = sample_unit ? sample_unit : "";
	period_type = period_type ? period_type : "";
	period_unit = period_unit ? period_unit : "";

	if (!pyro_labels_copy(&ls, client))
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory building series labels");

	/* split sample labels: the client's labels win */
	if (sample_labels)
	{
		for (size_t i = 0; i < sample_labels->n; i++)
			if (!pyro_labels_add_missing(&ls, sample_labels->labels[i].name,
										 sample_labels->labels[i].value))
				goto oom;
	}

	/* server-set labels are never taken from the client */
	for (size_t i = 0; i < sizeof(server_labels) / sizeof(server_labels[0]); i++)
		pyro_labels_remove(&ls, server_labels[i]);

	v = pyro_labels_get(&ls, "service_name");
	if (v == NULL || v[0] == '\0')
	{
		if (!pyro_labels_set(&ls, "service_name", "unknown_service"))
			goto oom;
	}
	v = pyro_labels_get(&ls, "__name__");
	if ((v == NULL || v[0] == '\0') && default_name && default_name[0])
	{
		if (!pyro_labels_set(&ls, "__name__", default_name))
			goto oom;
	}

	/* default relabel rules, spec §16.4 */
	v = pyro_labels_get(&ls, "__name__");
	if (v && strncmp(v, "godeltaprof_", 12) == 0)
	{
		name = pyro_strndup(v + 12, strlen(v + 12));
		if (name == NULL ||
			!pyro_labels_set(&ls, "__name__", name) ||
			!pyro_labels_set(&ls, "__delta__", "false"))
			goto oom;
		pyro_free(name);
		name = NULL;
	}
	v = pyro_labels_get(&ls, "__name__");
	if (v && strcmp(v, "wall") == 0 && strcmp(sample_type, "cpu") == 0)
	{
		if (!pyro_labels_set(&ls, "__name__", "process_cpu"))
			goto oom;
	}

	/*
	 * The Go SDK's __session_id__ (a new one per process): deleted, or kept
	 * modulo max_sessions_per_series so that restarts do not multiply series.
	 * The value is 16 hex digits of a little-endian uint64.
	 */
	v = pyro_labels_get(&ls, "__session_id__");
	if (v)
	{
		uint64_t	id = 0;
		bool		ok = strlen(v) == 16 && limits->max_sessions_per_series > 0;

		for (int i = 0; ok && i < 8; i++)
		{
			unsigned int byte;

			if (sscanf(v + 2 * i, "%2x", &byte) != 1 || !isxdigit((unsigned char) v[2 * i]) ||
				!isxdigit((unsigned char) v[2 * i + 1]))
				ok = false;
			else
				id |= (uint64_t) byte << (8 * i);
		}
		if (!ok)
			pyro_labels_remove(&ls, "__session_id__");
		else
		{
			char		hex[17];

			id %= limits->max_sessions_per_series;
			for (int i = 0; i < 8; i++)
				snprintf(hex + 2 * i, 3, "%02x", (unsigned int) ((id >> (8 * i)) & 0xFF));
			if (!pyro_labels_set(&ls, "__session_id__", hex))
				goto oom;
		}
	}

	st = validate_labels(&ls, limits, err);
	if (st != PYRO_OK)
	{
		pyro_labels_free(&ls);
		return st;
	}

	pyro_labels_remove(&ls, "__delta__");
	pyro_labels_remove(&ls, "__otel__");
	pyro_labels_remove(&ls, "__order__");

	/* the profile type id and the server-set labels */
	v = pyro_labels_get(&ls, "__name__");
	idlen = strlen(v) + strlen(sample_type) + strlen(sample_unit) +
		strlen(period_type) + strlen(period_unit) + 5;
	id = pyro_malloc(idlen);
	if (id == NULL)
		goto oom;
	snprintf(id, idlen, "%s:%s:%s:%s:%s", v, sample_type, sample_unit,
			 period_type, period_unit);
	if (!pyro_labels_set(&ls, "__profile_type__", id) ||
		!pyro_labels_set(&ls, "__type__", sample_type) ||
		!pyro_labels_set(&ls, "__unit__", sample_unit))
		goto oom;
	if (period_type[0] != '\0' || period_unit[0] != '\0')
	{
		if (!pyro_labels_set(&ls, "__period_type__", period_type) ||
			!pyro_labels_set(&ls, "__period_unit__", period_unit))
			goto oom;
	}
	if (!pyro_labels_set(&ls, "__service_name__", pyro_labels_get(&ls, "service_name")))
		goto oom;

	pyro_labels_sort(&ls);
	*out = ls;
	*profile_type_id = id;
	return PYRO_OK;

oom:
	pyro_free(name);
	pyro_free(id);
	pyro_labels_free(&ls);
	return pyro_error_set(err, PYRO_ENOMEM, "out of memory building series labels");
}
