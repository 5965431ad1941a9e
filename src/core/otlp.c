/*-------------------------------------------------------------------------
 *
 * otlp.c
 *	  OTLP profiles into pprof profiles and series labels (spec API-2 §2).
 *
 * The request is unpacked by protobuf-c from our own description of the
 * v1.10 messages (or of the v1.8/v1.9 Sample layout, chosen by looking at
 * the wire types of the samples' fields 3 and 4), or read from
 * protobuf-JSON by the descriptor-driven converter of connect_json.c.
 * Each Profile, split by its samples' service.name, becomes one pprof with
 * only the dictionary entries its samples reach, renumbered densely.
 * Upstream's mapping (profile type name from the period type, process_cpu
 * from samples/count with a cpu period, off_cpu, labels from resource and
 * scope attributes) is followed, with the corrections the spec recommends:
 * a sample's value is the sum of its values (or its timestamp count), bad
 * indices are 400 rather than 500, and a Profile that maps to no profile
 * type is rejected alone (partial success) instead of failing the request.
 *
 *-------------------------------------------------------------------------
 */
#include "otlp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "base64.h"
#include "connect_json.h"
#include "gen/otlp_profiles.pb-c.h"
#include "pbc_alloc.h"
#include "pbwire.h"

typedef Otlp__V1development__ExportProfilesServiceRequest Request;
typedef Otlp__V1development__ResourceProfiles ResourceProfiles;
typedef Otlp__V1development__ScopeProfiles ScopeProfiles;
typedef Otlp__V1development__Profile Profile;
typedef Otlp__V1development__Sample Sample;
typedef Otlp__V1development__ProfilesDictionary Dict;
typedef Otlp__V1development__KeyValue KeyValue;
typedef Otlp__V1development__AnyValue AnyValue;

#define NONE UINT32_MAX
/* protobuf-c takes a non-const allocator; ours is never written through */
#define PBC_ALLOC ((ProtobufCAllocator *) pyro_protobuf_allocator())

/* ---------------------------------------------------------------------
 * The v1.8/v1.9 layout: sniffed from the wire, read into v1.10 structs
 * ---------------------------------------------------------------------
 */

/* the messages at field f of a message, one after the other */
typedef bool (*SniffFn) (const uint8_t *p, const uint8_t *end, int *vote);

static bool
sniff_each(const uint8_t *p, const uint8_t *end, uint32_t field, SniffFn fn, int *vote)
{
	while (p < end)
	{
		PyroPbField f;

		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			return false;
		if (f.field == field && f.wt == 2 && !fn(f.data, f.data + f.len, vote))
			return false;
	}
	return true;
}

/* a Sample: +1 for v1.9 evidence, -1 for v1.10 */
static bool
sniff_sample(const uint8_t *p, const uint8_t *end, int *vote)
{
	while (p < end)
	{
		PyroPbField f;

		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			return false;
		if ((f.field == 3 && f.wt == 2) || (f.field == 4 && f.wt == 0))
			(*vote)++;
		else if ((f.field == 3 && f.wt == 0) || (f.field == 4 && f.wt == 2))
			(*vote)--;
	}
	return true;
}

static bool
sniff_profile(const uint8_t *p, const uint8_t *end, int *vote)
{
	return sniff_each(p, end, 2, sniff_sample, vote);
}

static bool
sniff_scope(const uint8_t *p, const uint8_t *end, int *vote)
{
	return sniff_each(p, end, 2, sniff_profile, vote);
}

static bool
sniff_resource(const uint8_t *p, const uint8_t *end, int *vote)
{
	return sniff_each(p, end, 2, sniff_scope, vote);
}

/* v1.10 structs sharing a v1.9 request's arrays (the shells are ours) */
static void
free_v19_shells(Request *r)
{
	for (size_t i = 0; i < r->n_resource_profiles; i++)
	{
		ResourceProfiles *rp = r->resource_profiles[i];

		for (size_t j = 0; j < rp->n_scope_profiles; j++)
		{
			ScopeProfiles *sp = rp->scope_profiles[j];

			for (size_t k = 0; k < sp->n_profiles; k++)
			{
				Profile    *pr = sp->profiles[k];

				for (size_t s = 0; s < pr->n_samples; s++)
					pyro_free(pr->samples[s]);
				pyro_free(pr->samples);
				pyro_free(pr);
			}
			pyro_free(sp->profiles);
			pyro_free(sp);
		}
		pyro_free(rp->scope_profiles);
		pyro_free(rp);
	}
	pyro_free(r->resource_profiles);
	pyro_free(r);
}

static Request *
v19_shells(const Otlp__V1development__ExportProfilesServiceRequestV19 *v)
{
	Request    *r = pyro_calloc(1, sizeof(Request));

	if (r == NULL)
		return NULL;
	r->dictionary = v->dictionary;
	r->resource_profiles = pyro_calloc(v->n_resource_profiles + 1, sizeof(ResourceProfiles *));
	if (r->resource_profiles == NULL)
	{
		pyro_free(r);
		return NULL;
	}
	for (size_t i = 0; i < v->n_resource_profiles; i++)
	{
		const Otlp__V1development__ResourceProfilesV19 *vr = v->resource_profiles[i];
		ResourceProfiles *rp = pyro_calloc(1, sizeof(ResourceProfiles));

		if (rp == NULL)
			goto fail;
		r->resource_profiles[r->n_resource_profiles++] = rp;
		rp->resource = vr->resource;
		if ((rp->scope_profiles = pyro_calloc(vr->n_scope_profiles + 1, sizeof(ScopeProfiles *))) == NULL)
			goto fail;
		for (size_t j = 0; j < vr->n_scope_profiles; j++)
		{
			const Otlp__V1development__ScopeProfilesV19 *vs = vr->scope_profiles[j];
			ScopeProfiles *sp = pyro_calloc(1, sizeof(ScopeProfiles));

			if (sp == NULL)
				goto fail;
			rp->scope_profiles[rp->n_scope_profiles++] = sp;
			sp->scope = vs->scope;
			if ((sp->profiles = pyro_calloc(vs->n_profiles + 1, sizeof(Profile *))) == NULL)
				goto fail;
			for (size_t k = 0; k < vs->n_profiles; k++)
			{
				const Otlp__V1development__ProfileV19 *vp = vs->profiles[k];
				Profile    *pr = pyro_calloc(1, sizeof(Profile));

				if (pr == NULL)
					goto fail;
				sp->profiles[sp->n_profiles++] = pr;
				pr->sample_type = vp->sample_type;
				pr->time_unix_nano = vp->time_unix_nano;
				pr->duration_nano = vp->duration_nano;
				pr->period_type = vp->period_type;
				pr->period = vp->period;
				if ((pr->samples = pyro_calloc(vp->n_samples + 1, sizeof(Sample *))) == NULL)
					goto fail;
				for (size_t s = 0; s < vp->n_samples; s++)
				{
					const Otlp__V1development__SampleV19 *vs9 = vp->samples[s];
					Sample	   *sa = pyro_calloc(1, sizeof(Sample));

					if (sa == NULL)
						goto fail;
					pr->samples[pr->n_samples++] = sa;
					sa->stack_index = vs9->stack_index;
					sa->n_attribute_indices = vs9->n_attribute_indices;
					sa->attribute_indices = vs9->attribute_indices;
					sa->link_index = vs9->link_index;
					sa->n_values = vs9->n_values;
					sa->values = vs9->values;
					sa->n_timestamps_unix_nano = vs9->n_timestamps_unix_nano;
					sa->timestamps_unix_nano = vs9->timestamps_unix_nano;
				}
			}
		}
	}
	return r;
fail:
	free_v19_shells(r);
	return NULL;
}

/* ---------------------------------------------------------------------
 * Strings of the dictionary and attribute values
 * ---------------------------------------------------------------------
 */
typedef struct Conv
{
	const Dict *d;
	PyroError  *err;
	bool		failed;
	size_t		nprofiles;		/* Profiles seen so far */
} Conv;

static PyroStatus
bad(Conv *c, const char *fmt, long long v)
{
	c->failed = true;
	return pyro_error_set(c->err, PYRO_EINVAL, fmt, v);
}

/* string idx of the dictionary; NULL (and an error) when out of range */
static const char *
dstr(Conv *c, int32_t idx)
{
	if (idx < 0 || (size_t) idx >= c->d->n_string_table)
	{
		bad(c, "string index %lld out of range", (long long) idx);
		return NULL;
	}
	return c->d->string_table[idx] ? c->d->string_table[idx] : "";
}

/*
 * An attribute value as a string, as upstream reads it: a string, an
 * integer in decimal, or a one-element array of either; "" otherwise.
 */
static const char *
value_string(Conv *c, const AnyValue *v, char *buf, size_t size)
{
	if (v == NULL)
		return "";
	switch (v->value_case)
	{
		case OTLP__V1DEVELOPMENT__ANY_VALUE__VALUE_STRING_VALUE:
			return v->string_value ? v->string_value : "";
		case OTLP__V1DEVELOPMENT__ANY_VALUE__VALUE_STRING_VALUE_STRINDEX:
			return dstr(c, v->string_value_strindex);
		case OTLP__V1DEVELOPMENT__ANY_VALUE__VALUE_INT_VALUE:
			snprintf(buf, size, "%" PRId64, v->int_value);
			return buf;
		case OTLP__V1DEVELOPMENT__ANY_VALUE__VALUE_ARRAY_VALUE:
			if (v->array_value && v->array_value->n_values == 1 &&
				v->array_value->values[0]->value_case != OTLP__V1DEVELOPMENT__ANY_VALUE__VALUE_ARRAY_VALUE)
				return value_string(c, v->array_value->values[0], buf, size);
			return "";
		default:
			return "";
	}
}

static const char *
kv_key(Conv *c, const KeyValue *kv)
{
	if (kv->key && kv->key[0])
		return kv->key;
	return dstr(c, kv->key_strindex);
}

/* the dictionary attribute idx; NULL (and an error) when out of range */
static const Otlp__V1development__KeyValueAndUnit *
dattr(Conv *c, int32_t idx)
{
	if (idx < 0 || (size_t) idx >= c->d->n_attribute_table || c->d->attribute_table[idx] == NULL)
	{
		bad(c, "attribute index %lld out of range", (long long) idx);
		return NULL;
	}
	return c->d->attribute_table[idx];
}

/* ---------------------------------------------------------------------
 * One pprof: the dictionary entries its samples reach, renumbered
 * ---------------------------------------------------------------------
 */
typedef struct Out
{
	Conv	   *c;
	/* strings: interned by content */
	PyroBuf		sbuf;
	size_t	   *soff;			/* string i = sbuf[soff[i], soff[i+1]) */
	size_t		nstr;
	size_t		soff_cap;
	uint32_t   *sslots;
	size_t		sslots_cap;
	uint32_t   *str_map;		/* dictionary string -> ours, NONE */
	uint32_t   *fn_map;			/* dictionary function -> id, 0 = none */
	uint32_t   *map_map;
	uint32_t   *loc_map;
	PyroBuf		fns;			/* encoded Function messages */
	PyroBuf		maps;
	PyroBuf		locs;
	PyroBuf		samples;
	uint32_t	nfn,
				nmap,
				nloc;
	size_t		nsamples;
	PyroBuf		tmp,
				tmp2;
} Out;

static void
pb_tag(PyroBuf *b, uint32_t field, int wt)
{
	pyro_buf_append_varint(b, ((uint64_t) field << 3) | (uint64_t) wt);
}

static void
pb_varint(PyroBuf *b, uint32_t field, uint64_t v)
{
	if (v == 0)
		return;
	pb_tag(b, field, 0);
	pyro_buf_append_varint(b, v);
}

static void
pb_bytes(PyroBuf *b, uint32_t field, const void *data, size_t len)
{
	pb_tag(b, field, 2);
	pyro_buf_append_varint(b, len);
	pyro_buf_append(b, data, len);
}

static uint32_t
out_str(Out *o, const char *s, size_t n)
{
	uint64_t	h = pyro_hash_bytes(s, n, 0x6F746C70);
	size_t		i;

	if (o->nstr == 0)
	{
		if (!pyro_grow((void **) &o->soff, &o->soff_cap, 2, sizeof(size_t)))
			return NONE;
		o->soff[0] = o->soff[1] = 0;
		o->nstr = 1;
	}
	if (n == 0)
		return 0;
	if ((o->nstr + 1) * 2 > o->sslots_cap)
	{
		size_t		ncap = o->sslots_cap ? o->sslots_cap * 2 : 64;
		uint32_t   *ns = pyro_malloc(ncap * sizeof(uint32_t));

		if (ns == NULL || o->nstr >= NONE - 1)
		{
			pyro_free(ns);
			return NONE;
		}
		memset(ns, 0xFF, ncap * sizeof(uint32_t));
		for (size_t j = 1; j < o->nstr; j++)
		{
			for (i = pyro_hash_bytes(o->sbuf.data + o->soff[j], o->soff[j + 1] - o->soff[j],
									 0x6F746C70) & (ncap - 1);
				 ns[i] != NONE; i = (i + 1) & (ncap - 1))
				;
			ns[i] = (uint32_t) j;
		}
		pyro_free(o->sslots);
		o->sslots = ns;
		o->sslots_cap = ncap;
	}
	for (i = h & (o->sslots_cap - 1);; i = (i + 1) & (o->sslots_cap - 1))
	{
		uint32_t	j = o->sslots[i];

		if (j == NONE)
			break;
		if (o->soff[j + 1] - o->soff[j] == n && memcmp(o->sbuf.data + o->soff[j], s, n) == 0)
			return j;
	}
	pyro_buf_append(&o->sbuf, s, n);
	if (o->sbuf.oom || !pyro_grow((void **) &o->soff, &o->soff_cap, o->nstr + 2, sizeof(size_t)))
		return NONE;
	o->soff[o->nstr + 1] = o->sbuf.len;
	o->sslots[i] = (uint32_t) o->nstr;
	return (uint32_t) o->nstr++;
}

static uint32_t
out_cstr(Out *o, const char *s)
{
	return out_str(o, s, strlen(s));
}

/* a dictionary string, interned; NONE on error */
static uint32_t
out_dstr(Out *o, int32_t idx)
{
	const char *s = dstr(o->c, idx);

	if (s == NULL)
		return NONE;
	if (o->str_map[idx] == NONE)
		o->str_map[idx] = out_cstr(o, s);
	return o->str_map[idx];
}

static PyroStatus
oom(Out *o)
{
	o->c->failed = true;
	return pyro_error_set(o->c->err, PYRO_ENOMEM, "out of memory converting OTLP profiles");
}

static uint32_t
out_function(Out *o, int32_t idx)
{
	const Otlp__V1development__Function *f;
	uint32_t	name,
				sys,
				file;

	if (idx < 0 || (size_t) idx >= o->c->d->n_function_table || o->c->d->function_table[idx] == NULL)
	{
		bad(o->c, "function index %lld out of range", (long long) idx);
		return NONE;
	}
	if (o->fn_map[idx])
		return o->fn_map[idx];
	f = o->c->d->function_table[idx];
	if ((name = out_dstr(o, f->name_strindex)) == NONE || (sys = out_dstr(o, f->system_name_strindex)) == NONE ||
		(file = out_dstr(o, f->filename_strindex)) == NONE)
		return NONE;
	o->fn_map[idx] = ++o->nfn;
	o->tmp.len = 0;
	pb_varint(&o->tmp, 1, o->nfn);
	pb_varint(&o->tmp, 2, name);
	pb_varint(&o->tmp, 3, sys);
	pb_varint(&o->tmp, 4, file);
	pb_varint(&o->tmp, 5, (uint64_t) f->start_line);
	pb_bytes(&o->fns, 5, o->tmp.data, o->tmp.len);
	return o->nfn;
}

static uint32_t
out_mapping(Out *o, int32_t idx)
{
	const Otlp__V1development__Mapping *m;
	uint32_t	file,
				build = 0;

	if (idx < 0 || (size_t) idx >= o->c->d->n_mapping_table || o->c->d->mapping_table[idx] == NULL)
	{
		bad(o->c, "mapping index %lld out of range", (long long) idx);
		return NONE;
	}
	if (idx == 0)
		return 0;
	if (o->map_map[idx])
		return o->map_map[idx];
	m = o->c->d->mapping_table[idx];
	if ((file = out_dstr(o, m->filename_strindex)) == NONE)
		return NONE;
	for (size_t a = 0; a < m->n_attribute_indices; a++)
	{
		const Otlp__V1development__KeyValueAndUnit *kv = dattr(o->c, m->attribute_indices[a]);
		const char *k;
		char		nb[32];

		if (kv == NULL || (k = dstr(o->c, kv->key_strindex)) == NULL)
			return NONE;
		if (strcmp(k, "process.executable.build_id.gnu") == 0)
		{
			const char *v = value_string(o->c, kv->value, nb, sizeof(nb));

			if (v == NULL || (build = out_cstr(o, v)) == NONE)
				return NONE;
		}
	}
	o->map_map[idx] = ++o->nmap;
	o->tmp.len = 0;
	pb_varint(&o->tmp, 1, o->nmap);
	pb_varint(&o->tmp, 2, m->memory_start);
	pb_varint(&o->tmp, 3, m->memory_limit);
	pb_varint(&o->tmp, 4, m->file_offset);
	pb_varint(&o->tmp, 5, file);
	pb_varint(&o->tmp, 6, build);
	pb_bytes(&o->maps, 3, o->tmp.data, o->tmp.len);
	return o->nmap;
}

static uint32_t
out_location(Out *o, int32_t idx)
{
	const Otlp__V1development__Location *l;
	uint32_t	mapping;
	uint32_t	synthetic = 0;

	if (idx < 0 || (size_t) idx >= o->c->d->n_location_table || o->c->d->location_table[idx] == NULL)
	{
		bad(o->c, "location index %lld out of range", (long long) idx);
		return NONE;
	}
	if (o->loc_map[idx])
		return o->loc_map[idx];
	l = o->c->d->location_table[idx];
	if ((mapping = out_mapping(o, l->mapping_index)) == NONE)
		return NONE;
	/* functions first: out_function uses the scratch buffers */
	for (size_t i = 0; i < l->n_lines; i++)
		if (out_function(o, l->lines[i]->function_index) == NONE)
			return NONE;
	if (l->n_lines == 0)
	{
		/*
		 * An unsymbolized frame (a native one of the eBPF profiler): a
		 * function named as upstream names it when it cannot symbolize,
		 * "<binary>!0x<address>" ("unknown" without a file name).
		 */
		const char *file = "";
		const char *base;
		char		name[512];
		uint32_t	ns;

		if (l->mapping_index > 0 && (file = dstr(o->c, o->c->d->mapping_table[l->mapping_index]->filename_strindex)) == NULL)
			return NONE;
		base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
		snprintf(name, sizeof(name), "%s!0x%" PRIx64, base[0] ? base : "unknown", l->address);
		if ((ns = out_cstr(o, name)) == NONE)
			return NONE;
		synthetic = ++o->nfn;
		o->tmp.len = 0;
		pb_varint(&o->tmp, 1, synthetic);
		pb_varint(&o->tmp, 2, ns);
		pb_bytes(&o->fns, 5, o->tmp.data, o->tmp.len);
	}
	{
		PyroBuf		msg,
					line;

		pyro_buf_init(&msg);
		pyro_buf_init(&line);
		o->loc_map[idx] = ++o->nloc;
		pb_varint(&msg, 1, o->nloc);
		pb_varint(&msg, 2, mapping);
		pb_varint(&msg, 3, l->address);
		for (size_t i = 0; i < l->n_lines; i++)
		{
			line.len = 0;
			pb_varint(&line, 1, o->fn_map[l->lines[i]->function_index]);
			pb_varint(&line, 2, (uint64_t) l->lines[i]->line);
			pb_bytes(&msg, 4, line.data, line.len);
		}
		if (synthetic)
		{
			line.len = 0;
			pb_varint(&line, 1, synthetic);
			pb_bytes(&msg, 4, line.data, line.len);
		}
		pb_bytes(&o->locs, 4, msg.data, msg.len);
		if (msg.oom || line.oom)
			o->locs.oom = true;
		pyro_buf_free(&msg);
		pyro_buf_free(&line);
	}
	return o->nloc;
}

static void
hex_of(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++)
	{
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* the string value of a sample's service.name; NULL on error */
static const char *
sample_service(Conv *c, const Sample *s)
{
	for (size_t a = 0; a < s->n_attribute_indices; a++)
	{
		const Otlp__V1development__KeyValueAndUnit *kv = dattr(c, s->attribute_indices[a]);
		const char *k;
		static char nb[32];

		if (kv == NULL || (k = dstr(c, kv->key_strindex)) == NULL)
			return NULL;
		if (strcmp(k, "service.name") == 0)
			return value_string(c, kv->value, nb, sizeof(nb));
	}
	return "";
}

typedef struct ProfileKind
{
	const char *name;			/* __name__, "" = none */
	bool		cpu;			/* samples:count with a cpu period: x period */
	const char *type;
	const char *unit;
	const char *ptype;			/* NULL = no period */
	const char *punit;
} ProfileKind;

/* append a sample of p to o; value as the spec recommends */
static PyroStatus
out_sample(Out *o, const Profile *p, const Sample *s, const ProfileKind *k)
{
	const Dict *d = o->c->d;
	int64_t		value = 0;
	PyroBuf		ids;
	const Otlp__V1development__Stack *st;

	if (s->n_values == 0 && s->n_timestamps_unix_nano == 0)
		return bad(o->c, "sample %lld has neither values nor timestamps", (long long) o->nsamples);
	for (size_t i = 0; i < s->n_values; i++)
		if (__builtin_add_overflow(value, s->values[i], &value))
			return bad(o->c, "the values of sample %lld overflow", (long long) o->nsamples);
	if (s->n_values == 0)
		value = (int64_t) s->n_timestamps_unix_nano;
	if (k->cpu && __builtin_mul_overflow(value, p->period, &value))
		return bad(o->c, "the value of sample %lld overflows when scaled by the period", (long long) o->nsamples);
	if (s->stack_index < 0 || (size_t) s->stack_index >= d->n_stack_table ||
		d->stack_table[s->stack_index] == NULL)
		return bad(o->c, "stack index %lld out of range", (long long) s->stack_index);
	st = d->stack_table[s->stack_index];

	pyro_buf_init(&ids);
	for (size_t i = 0; i < st->n_location_indices; i++)
	{
		uint32_t	loc;

		if (st->location_indices[i] == 0)
			continue;			/* the zero location: unset */
		if ((loc = out_location(o, st->location_indices[i])) == NONE)
		{
			pyro_buf_free(&ids);
			return o->c->err->code;
		}
		pyro_buf_append_varint(&ids, loc);
	}
	{
		PyroBuf		sample;

		pyro_buf_init(&sample);
		if (ids.len)
			pb_bytes(&sample, 1, ids.data, ids.len);
		pyro_buf_free(&ids);
		o->tmp2.len = 0;
		pyro_buf_append_varint(&o->tmp2, (uint64_t) value);
		pb_bytes(&sample, 2, o->tmp2.data, o->tmp2.len);
		for (size_t a = 0; a < s->n_attribute_indices; a++)
		{
			const Otlp__V1development__KeyValueAndUnit *kv = dattr(o->c, s->attribute_indices[a]);
			const char *key;
			const char *val;
			char		nb[32];
			uint32_t	ks,
						vs;

			if (kv == NULL || (key = dstr(o->c, kv->key_strindex)) == NULL ||
				(val = value_string(o->c, kv->value, nb, sizeof(nb))) == NULL)
			{
				pyro_buf_free(&sample);
				return o->c->err->code;
			}
			if (strcmp(key, "service.name") == 0 || key[0] == '\0' || val[0] == '\0')
				continue;
			if ((ks = out_cstr(o, key)) == NONE || (vs = out_cstr(o, val)) == NONE)
			{
				pyro_buf_free(&sample);
				return oom(o);
			}
			o->tmp2.len = 0;
			pb_varint(&o->tmp2, 1, ks);
			pb_varint(&o->tmp2, 2, vs);
			pb_bytes(&sample, 3, o->tmp2.data, o->tmp2.len);
		}
		if (s->link_index != 0)
		{
			const Otlp__V1development__Link *l;
			char		hex[2 * 64 + 1];

			if (s->link_index < 0 || (size_t) s->link_index >= d->n_link_table ||
				d->link_table[s->link_index] == NULL)
			{
				pyro_buf_free(&sample);
				return bad(o->c, "link index %lld out of range", (long long) s->link_index);
			}
			l = d->link_table[s->link_index];
			if (l->span_id.len > 0 && l->span_id.len <= 64)
			{
				hex_of(l->span_id.data, l->span_id.len, hex);
				o->tmp2.len = 0;
				pb_varint(&o->tmp2, 1, out_cstr(o, "span_id"));
				pb_varint(&o->tmp2, 2, out_cstr(o, hex));
				pb_bytes(&sample, 3, o->tmp2.data, o->tmp2.len);
			}
			if (l->trace_id.len == 16)
			{
				hex_of(l->trace_id.data, 16, hex);
				o->tmp2.len = 0;
				pb_varint(&o->tmp2, 1, out_cstr(o, "trace_id"));
				pb_varint(&o->tmp2, 2, out_cstr(o, hex));
				pb_bytes(&sample, 3, o->tmp2.data, o->tmp2.len);
			}
		}
		pb_bytes(&o->samples, 2, sample.data, sample.len);
		if (sample.oom)
		{
			pyro_buf_free(&sample);
			return oom(o);
		}
		pyro_buf_free(&sample);
	}
	o->nsamples++;
	return PYRO_OK;
}

static void
out_free(Out *o)
{
	pyro_buf_free(&o->sbuf);
	pyro_free(o->soff);
	pyro_free(o->sslots);
	pyro_free(o->str_map);
	pyro_free(o->fn_map);
	pyro_free(o->map_map);
	pyro_free(o->loc_map);
	pyro_buf_free(&o->fns);
	pyro_buf_free(&o->maps);
	pyro_buf_free(&o->locs);
	pyro_buf_free(&o->samples);
	pyro_buf_free(&o->tmp);
	pyro_buf_free(&o->tmp2);
}

static bool
out_init(Out *o, Conv *c)
{
	const Dict *d = c->d;

	memset(o, 0, sizeof(*o));
	o->c = c;
	o->str_map = pyro_malloc((d->n_string_table + 1) * sizeof(uint32_t));
	o->fn_map = pyro_calloc(d->n_function_table + 1, sizeof(uint32_t));
	o->map_map = pyro_calloc(d->n_mapping_table + 1, sizeof(uint32_t));
	o->loc_map = pyro_calloc(d->n_location_table + 1, sizeof(uint32_t));
	if (!o->str_map || !o->fn_map || !o->map_map || !o->loc_map)
		return false;
	memset(o->str_map, 0xFF, (d->n_string_table + 1) * sizeof(uint32_t));
	return out_cstr(o, "") == 0;
}

/* the whole pprof of o into *pprof */
static PyroStatus
out_finish(Out *o, const Profile *p, const ProfileKind *k, PyroBuf *pprof)
{
	uint32_t	t = out_cstr(o, k->type),
				u = out_cstr(o, k->unit);

	pyro_buf_init(pprof);
	o->tmp.len = 0;
	pb_varint(&o->tmp, 1, t);
	pb_varint(&o->tmp, 2, u);
	pb_bytes(pprof, 1, o->tmp.data, o->tmp.len);
	pyro_buf_append(pprof, o->samples.data, o->samples.len);
	pyro_buf_append(pprof, o->maps.data, o->maps.len);
	pyro_buf_append(pprof, o->locs.data, o->locs.len);
	pyro_buf_append(pprof, o->fns.data, o->fns.len);
	if (k->ptype)
	{
		uint32_t	pt = out_cstr(o, k->ptype),
					pu = out_cstr(o, k->punit);

		o->tmp.len = 0;
		pb_varint(&o->tmp, 1, pt);
		pb_varint(&o->tmp, 2, pu);
		pb_bytes(pprof, 11, o->tmp.data, o->tmp.len);
		pb_varint(pprof, 12, (uint64_t) p->period);
	}
	for (size_t i = 0; i < o->nstr; i++)
		pb_bytes(pprof, 6, o->sbuf.data + o->soff[i], o->soff[i + 1] - o->soff[i]);
	pb_varint(pprof, 9, p->time_unix_nano);
	pb_varint(pprof, 10, p->duration_nano ? p->duration_nano : UINT64_C(10000000000));
	if (pprof->oom || o->sbuf.oom || o->samples.oom || o->maps.oom || o->locs.oom || o->fns.oom ||
		o->tmp.oom || o->tmp2.oom)
	{
		pyro_buf_free(pprof);
		return oom(o);
	}
	return PYRO_OK;
}

/* ---------------------------------------------------------------------
 * Series labels
 * ---------------------------------------------------------------------
 */
static PyroStatus
add_attributes(Conv *c, PyroLabelSet *ls, KeyValue **attrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		const char *k = kv_key(c, attrs[i]);
		char		nb[32];
		const char *v;

		if (k == NULL || (v = value_string(c, attrs[i]->value, nb, sizeof(nb))) == NULL)
			return c->err->code;
		if (k[0] == '\0' || v[0] == '\0' || strcmp(k, "__name__") == 0 ||
			pyro_labels_get(ls, k) != NULL)
			continue;
		if (!pyro_labels_set(ls, k, v))
			return pyro_error_set(c->err, PYRO_ENOMEM, "out of memory converting OTLP profiles");
	}
	return PYRO_OK;
}

/* the resource's service name (spec §2.5 step 1) */
static PyroStatus
resource_service(Conv *c, const Otlp__V1development__Resource *r, char **out)
{
	char	   *exe = NULL;
	PyroBuf		b;

	*out = NULL;
	for (size_t i = 0; r && i < r->n_attributes && *out == NULL; i++)
	{
		const char *k = kv_key(c, r->attributes[i]);
		char		nb[32];
		const char *v;

		if (k == NULL || (v = value_string(c, r->attributes[i]->value, nb, sizeof(nb))) == NULL)
		{
			pyro_free(exe);
			return c->err->code;
		}
		if (strcmp(k, "service.name") == 0 && v[0])
			*out = pyro_strndup(v, strlen(v));
		else if (strcmp(k, "process.executable.name") == 0 && exe == NULL)
			exe = pyro_strndup(v, strlen(v));
	}
	if (*out == NULL)
	{
		pyro_buf_init(&b);
		pyro_buf_append_str(&b, "unknown_service");
		if (exe && exe[0])
		{
			pyro_buf_append_byte(&b, ':');
			pyro_buf_append_str(&b, exe);
		}
		*out = pyro_strndup((const char *) b.data, b.len);
		pyro_buf_free(&b);
	}
	pyro_free(exe);
	return *out ? PYRO_OK : pyro_error_set(c->err, PYRO_ENOMEM, "out of memory converting OTLP profiles");
}

/* ---------------------------------------------------------------------
 * The request
 * ---------------------------------------------------------------------
 */
static PyroStatus
profile_kind(Conv *c, const Profile *p, ProfileKind *k)
{
	memset(k, 0, sizeof(*k));
	if (p->sample_type == NULL)
		return bad(c, "profile %lld has no sample_type", (long long) c->nprofiles);
	if ((k->type = dstr(c, p->sample_type->type_strindex)) == NULL ||
		(k->unit = dstr(c, p->sample_type->unit_strindex)) == NULL)
		return c->err->code;
	if (p->period_type && p->period != 0)
	{
		if ((k->ptype = dstr(c, p->period_type->type_strindex)) == NULL ||
			(k->punit = dstr(c, p->period_type->unit_strindex)) == NULL)
			return c->err->code;
	}
	if (strcmp(k->type, "samples") == 0 && strcmp(k->unit, "count") == 0 && k->ptype &&
		strcmp(k->ptype, "cpu") == 0 && strcmp(k->punit, "nanoseconds") == 0)
	{
		k->name = "process_cpu";
		k->cpu = true;
		k->type = "cpu";
		k->unit = "nanoseconds";
	}
	else if (strcmp(k->type, "off_cpu") == 0 && strcmp(k->unit, "nanoseconds") == 0 && !k->ptype)
		k->name = "off_cpu";
	else
		k->name = k->ptype ? k->ptype : "";
	return PYRO_OK;
}

static void
free_groups(const char **groups, size_t n)
{
	for (size_t g = 0; g < n; g++)
		pyro_free((void *) groups[g]);
	pyro_free(groups);
}

static PyroStatus
convert_request(Conv *c, const Request *req, PyroOtlpResult *out)
{
	size_t		series_cap = 0;

	for (size_t i = 0; i < req->n_resource_profiles; i++)
	{
		const ResourceProfiles *rp = req->resource_profiles[i];
		char	   *rsvc;
		PyroStatus	st;

		if ((st = resource_service(c, rp->resource, &rsvc)) != PYRO_OK)
			return st;
		for (size_t j = 0; j < rp->n_scope_profiles; j++)
		{
			const ScopeProfiles *sp = rp->scope_profiles[j];

			for (size_t k = 0; k < sp->n_profiles; k++)
			{
				const Profile *p = sp->profiles[k];
				ProfileKind kind;
				const char **groups = NULL;
				size_t		ngroups = 0,
							gcap = 0;

				c->nprofiles++;
				if ((st = profile_kind(c, p, &kind)) != PYRO_OK)
				{
					pyro_free(rsvc);
					return st;
				}
				if (kind.name[0] == '\0')
				{
					out->rejected_samples += p->n_samples;
					if (out->rejected++ == 0)
					{
						char		msg[512];

						snprintf(msg, sizeof(msg),
								 "a profile of sample type %s:%s has no period type, so no profile type name; it was not stored",
								 kind.type, kind.unit);
						out->rejected_msg = pyro_strndup(msg, strlen(msg));
					}
					continue;
				}
				/* the groups of samples by their service.name, in order */
				for (size_t s = 0; s < p->n_samples; s++)
				{
					const char *svc = sample_service(c, p->samples[s]);
					size_t		g;

					if (svc == NULL)
					{
						free_groups(groups, ngroups);
						pyro_free(rsvc);
						return c->err->code;
					}
					for (g = 0; g < ngroups; g++)
						if (strcmp(groups[g], svc) == 0)
							break;
					if (g == ngroups)
					{
						char	   *copy = pyro_strndup(svc, strlen(svc));

						if (copy == NULL ||
							!pyro_grow((void **) &groups, &gcap, ngroups + 1, sizeof(char *)))
						{
							pyro_free(copy);
							free_groups(groups, ngroups);
							pyro_free(rsvc);
							return pyro_error_set(c->err, PYRO_ENOMEM, "out of memory converting OTLP profiles");
						}
						groups[ngroups++] = copy;
					}
				}
				for (size_t g = 0; g < ngroups && st == PYRO_OK; g++)
				{
					Out			o;
					PyroOtlpSeries *ser;

					if (!out_init(&o, c))
						st = oom(&o);
					for (size_t s = 0; s < p->n_samples && st == PYRO_OK; s++)
					{
						const char *svc = sample_service(c, p->samples[s]);

						if (svc == NULL)
							st = c->err->code;
						else if (strcmp(svc, groups[g]) == 0)
							st = out_sample(&o, p, p->samples[s], &kind);
					}
					if (st == PYRO_OK &&
						!pyro_grow((void **) &out->series, &series_cap, out->nseries + 1,
								   sizeof(PyroOtlpSeries)))
						st = oom(&o);
					if (st == PYRO_OK)
					{
						ser = &out->series[out->nseries];
						memset(ser, 0, sizeof(*ser));
						pyro_labels_init(&ser->labels);
						out->nseries++;
						ser->nsamples = o.nsamples;
						if (!pyro_labels_set(&ser->labels, "__name__", kind.name))
							st = oom(&o);
						if (st == PYRO_OK)
							st = add_attributes(c, &ser->labels,
												rp->resource ? rp->resource->attributes : NULL,
												rp->resource ? rp->resource->n_attributes : 0);
						if (st == PYRO_OK)
							st = add_attributes(c, &ser->labels,
												sp->scope ? sp->scope->attributes : NULL,
												sp->scope ? sp->scope->n_attributes : 0);
						if (st == PYRO_OK &&
							!pyro_labels_set(&ser->labels, "service_name", groups[g][0] ? groups[g] : rsvc))
							st = oom(&o);
						if (st == PYRO_OK)
							st = out_finish(&o, p, &kind, &ser->pprof);
					}
					out_free(&o);
				}
				free_groups(groups, ngroups);
				if (st != PYRO_OK)
				{
					pyro_free(rsvc);
					return st;
				}
			}
		}
		pyro_free(rsvc);
	}
	return PYRO_OK;
}

void
pyro_otlp_result_free(PyroOtlpResult *r)
{
	for (size_t i = 0; i < r->nseries; i++)
	{
		pyro_labels_free(&r->series[i].labels);
		pyro_buf_free(&r->series[i].pprof);
	}
	pyro_free(r->series);
	pyro_free(r->rejected_msg);
	memset(r, 0, sizeof(*r));
}

/* a JSON trace or span id: hex per the OTLP spec, read as base64 by the converter */
static void
fix_hex_ids(Request *req)
{
	Dict	   *d = req->dictionary;

	for (size_t i = 0; d && i < d->n_link_table; i++)
	{
		ProtobufCBinaryData *ids[2];

		if (d->link_table[i] == NULL)
			continue;
		ids[0] = &d->link_table[i]->trace_id;
		ids[1] = &d->link_table[i]->span_id;
		for (int k = 0; k < 2; k++)
		{
			size_t		want = k == 0 ? 24 : 12;	/* base64 bytes of 32/16
													 * hex */
			PyroBuf		b64;
			bool		hex = true;

			if (ids[k]->len != want)
				continue;
			pyro_buf_init(&b64);
			pyro_base64_append(&b64, ids[k]->data, ids[k]->len);
			for (size_t j = 0; j < b64.len && hex; j++)
			{
				char		ch = (char) b64.data[j];

				hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
			}
			if (hex && b64.len == 2 * (want * 2 / 3))
			{
				for (size_t j = 0; j < b64.len / 2; j++)
				{
					char		pair[3] = {(char) b64.data[2 * j], (char) b64.data[2 * j + 1], 0};

					ids[k]->data[j] = (uint8_t) strtoul(pair, NULL, 16);
				}
				ids[k]->len = b64.len / 2;
			}
			pyro_buf_free(&b64);
		}
	}
}

PyroStatus
pyro_otlp_convert(const uint8_t *data, size_t len, bool json, PyroOtlpResult *out,
				  PyroError *err)
{
	ProtobufCMessage *msg = NULL;
	Request    *req;
	Request    *shells = NULL;
	Conv		c;
	PyroStatus	st;
	static const Dict empty_dict = OTLP__V1DEVELOPMENT__PROFILES_DICTIONARY__INIT;

	memset(out, 0, sizeof(*out));
	if (json)
	{
		if ((st = pyro_json_to_message(&otlp__v1development__export_profiles_service_request__descriptor,
									   (const char *) data, len, &msg, err)) != PYRO_OK)
			return st;
		req = (Request *) msg;
		fix_hex_ids(req);
	}
	else
	{
		int			vote = 0;

		if (!sniff_each(data, data + len, 1, sniff_resource, &vote))
			return pyro_error_set(err, PYRO_EINVAL, "malformed OTLP profiles request");
		if ((st = pyro_message_check_strings(&otlp__v1development__export_profiles_service_request__descriptor,
											 data, len, err)) != PYRO_OK)
			return st;
		out->v19 = vote > 0;
		msg = protobuf_c_message_unpack(out->v19 ?
										&otlp__v1development__export_profiles_service_request_v19__descriptor :
										&otlp__v1development__export_profiles_service_request__descriptor,
										PBC_ALLOC, len, data);
		if (msg == NULL)
			return pyro_error_set(err, PYRO_EINVAL, "malformed OTLP profiles request");
		if (out->v19)
		{
			shells = v19_shells((const Otlp__V1development__ExportProfilesServiceRequestV19 *) msg);
			if (shells == NULL)
			{
				protobuf_c_message_free_unpacked(msg, PBC_ALLOC);
				return pyro_error_set(err, PYRO_ENOMEM, "out of memory decoding OTLP profiles");
			}
			req = shells;
		}
		else
			req = (Request *) msg;
	}
	memset(&c, 0, sizeof(c));
	c.d = req->dictionary ? req->dictionary : &empty_dict;
	c.err = err;
	st = convert_request(&c, req, out);
	if (shells)
		free_v19_shells(shells);
	protobuf_c_message_free_unpacked(msg, PBC_ALLOC);
	if (st != PYRO_OK)
	{
		pyro_otlp_result_free(out);
		return st;
	}
	return PYRO_OK;
}

PyroStatus
pyro_otlp_response(int64_t rejected, const char *msg, bool json, PyroBuf *out, PyroError *err)
{
	Otlp__V1development__ExportProfilesServiceResponse resp = OTLP__V1DEVELOPMENT__EXPORT_PROFILES_SERVICE_RESPONSE__INIT;
	Otlp__V1development__ExportProfilesPartialSuccess ps = OTLP__V1DEVELOPMENT__EXPORT_PROFILES_PARTIAL_SUCCESS__INIT;

	pyro_buf_init(out);
	if (rejected > 0)
	{
		ps.rejected_profiles = rejected;
		ps.error_message = (char *) (msg ? msg : "");
		resp.partial_success = &ps;
	}
	if (json)
		return pyro_message_to_json(&resp.base, out);
	if (!pyro_buf_reserve(out, protobuf_c_message_get_packed_size(&resp.base) + 1))
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	out->len = protobuf_c_message_pack(&resp.base, out->data);
	return PYRO_OK;
}
