/*-------------------------------------------------------------------------
 *
 * http_push.c
 *	  The push endpoints: Connect push.v1.PusherService/Push (spec §6) and
 *	  the legacy POST /ingest (spec §10): raw pprof, pprof in
 *	  multipart/form-data, folded and "lines" text.
 *
 * Everything a request carries is stored in the request's transaction
 * through the same paths as the SQL function pyroscope.ingest_pprof():
 * pyroscope_store_pprof() for pprof, pyroscope_store_normalized() for the
 * text formats.  A request that fails anywhere stores nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "gen/push.pb-c.h"
#include "ingest_params.h"
#include "labels.h"
#include "pprof.h"
#include "pyroscope.h"

/* profiles older than this many ns since the epoch are really µs (old SDKs) */
#define NANOS_1971		INT64CONST(31536000000000000)

static uint64
count_samples(const PyroNormalized *n)
{
	uint64		s = 0;

	for (size_t i = 0; i < n->nseries; i++)
		s += n->series[i].profile ? n->series[i].profile->nsamples : n->series[i].nsamples;
	return s;
}

/*
 * Validate and summarise one pprof for pyroscope_store_pprof; errors out
 * with invalid_argument.
 */
static PyroNormalized *
summarize_pprof(const uint8_t *data, size_t len)
{
	PyroPprofLimits limits;
	PyroNormalized *n;
	PyroError	err;

	pyroscope_pprof_ingest_limits(&limits);
	if (pyro_pprof_summarize(data, len, &limits, &n, &err) != PYRO_OK)
	{
		if (err.code == PYRO_ENOMEM)
			pyroscope_report(&err, "could not decode pprof profile");
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not decode pprof profile: %s", err.msg)));
	}
	return n;
}

/* The bytes of a pprof as a bytea, to be stored as sent. */
static bytea *
pprof_bytea(const uint8_t *data, size_t len)
{
	bytea	   *b;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("profile of %zu bytes is too large", len)));
	b = palloc(VARHDRSZ + len);
	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

static void
set_label(PyroLabelSet *ls, const char *name, const char *value)
{
	if (!pyro_labels_set(ls, name, value))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

/*
 * POST /push.v1.PusherService/Push: every sample of every series, each
 * stored with that series' labels.
 */
void
http_handle_push(HttpRequest *req)
{
	Push__V1__PushRequest *pr;
	uint64		profiles = 0;
	uint64		samples = 0;
	uint64		written = 0;
	Push__V1__PushResponse resp = PUSH__V1__PUSH_RESPONSE__INIT;

	pr = (Push__V1__PushRequest *) http_connect_decode(req, &push__v1__push_request__descriptor);
	for (size_t s = 0; s < pr->n_series; s++)
	{
		Push__V1__RawProfileSeries *rs = pr->series[s];
		PyroLabelSet client;

		pyro_labels_init(&client);
		for (size_t l = 0; l < rs->n_labels; l++)
		{
			const char *name = rs->labels[l]->name;

			if (name == NULL || name[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("series %zu has a label with an empty name", s)));
			if (pyro_labels_get(&client, name) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("duplicate label name \"%s\" in series %zu", name, s)));
			set_label(&client, name, rs->labels[l]->value ? rs->labels[l]->value : "");
		}
		for (size_t i = 0; i < rs->n_samples; i++)
		{
			ProtobufCBinaryData *raw = &rs->samples[i]->raw_profile;
			PyroNormalized *n;

			if (raw->len == 0)
				continue;
			n = summarize_pprof(raw->data, raw->len);
			written += pyroscope_store_pprof(pprof_bytea(raw->data, raw->len), n,
											 &client, req->tenant);
			samples += count_samples(n);
			profiles++;
			pyro_normalized_free(n);
		}
		pyro_labels_free(&client);
	}
	if (profiles == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no profiles received")));
	http_record_ingest(profiles, samples, written);
	http_connect_reply(req, &resp.base);
}

/* -------- /ingest -------- */

/* Query parameters of one /ingest request (spec §10.1). */
typedef struct IngestParams
{
	PyroAppName app;
	int64		from_ms;
	int64		until_ms;
	const char *format;			/* NULL when absent */
	const char *spy;
	int64		sample_rate;
} IngestParams;

/*
 * Map a sample type name through sample_type_config (spec §10.4): the
 * config, when sent, replaces the built-in display names.
 */
static const char *
display_name(const char *type, Jsonb *config)
{
	static const char *const builtin[][2] = {
		{"samples", "cpu"}, {"goroutine", "goroutines"},
		{"contentions", "mutex_count"}, {"delay", "mutex_duration"}
	};

	if (config)
	{
		JsonbValue	key;
		JsonbValue *entry;

		key.type = jbvString;
		key.val.string.val = (char *) type;
		key.val.string.len = strlen(type);
		entry = findJsonbValueFromContainer(&config->root, JB_FOBJECT, &key);
		if (entry && entry->type == jbvBinary)
		{
			JsonbValue	dk;
			JsonbValue *dn;

			dk.type = jbvString;
			dk.val.string.val = "display-name";
			dk.val.string.len = strlen("display-name");
			dn = findJsonbValueFromContainer(entry->val.binary.data, JB_FOBJECT, &dk);
			if (dn && dn->type == jbvString && dn->val.string.len > 0)
				return pnstrdup(dn->val.string.val, dn->val.string.len);
		}
		return type;
	}
	for (size_t i = 0; i < lengthof(builtin); i++)
		if (strcmp(type, builtin[i][0]) == 0)
			return builtin[i][1];
	return type;
}

/* The __name__ of a pprof pushed to /ingest (spec §10.7, pprof path). */
static const char *
ingest_pprof_name(const PyroNormalized *n, Jsonb *config)
{
	const char *last = NULL;

	for (uint32 i = 0; i < n->ntypes; i++)
		if (strcmp(n->sample_types[i], "wall") == 0)
			return "wall";
	for (uint32 i = 0; i < n->ntypes; i++)
	{
		const char *t = display_name(n->sample_types[i], config);

		if (strstr(t, "cpu"))
			return "process_cpu";
		if (strstr(t, "alloc_") || strstr(t, "inuse_") || strcmp(t, "space") == 0 ||
			strcmp(t, "objects") == 0)
			return "memory";
		if (strstr(t, "mutex_"))
			return "mutex";
		if (strstr(t, "block_"))
			return "block";
		if (strstr(t, "goroutines"))
			return "goroutines";
		last = t;
	}
	return last ? last : "unknown";
}

/* Labels common to every /ingest path: inline labels and pyroscope_spy. */
static void
ingest_base_labels(const IngestParams *p, PyroLabelSet *ls)
{
	if (!pyro_labels_copy(ls, &p->app.labels))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	set_label(ls, "pyroscope_spy", p->spy);
	set_label(ls, "__delta__", "false");
}

/* Store a pprof sent to /ingest, raw or from a form (spec §10.4). */
static void
ingest_pprof(HttpRequest *req, const IngestParams *p, const uint8_t *data, size_t len,
			 Jsonb *config)
{
	PyroNormalized *n;
	PyroLabelSet ls;
	int			written;

	if (len == 0)
		return;
	n = summarize_pprof(data, len);
	if (n->time_nanos < NANOS_1971)
		n->time_nanos = p->from_ms * 1000000;
	pyro_labels_init(&ls);
	ingest_base_labels(p, &ls);
	set_label(&ls, "__name__", ingest_pprof_name(n, config));
	if (pyro_labels_get(&ls, "service_name") == NULL)
		set_label(&ls, "service_name", p->app.name);
	written = pyroscope_store_pprof(pprof_bytea(data, len), n, &ls, req->tenant);
	http_record_ingest(1, count_samples(n), written);
	pyro_labels_free(&ls);
	pyro_normalized_free(n);
}

/* Profile type of the text formats, by the app name's suffix (spec §10.7). */
typedef struct TextType
{
	const char *suffix;
	const char *name;
	const char *type;
	const char *unit;
	bool		cpu_like;		/* scaled by sampleRate, period cpu:nanoseconds */
} TextType;

static const TextType text_types[] = {
	{"", "process_cpu", "cpu", "nanoseconds", true},
	{"cpu", "process_cpu", "cpu", "nanoseconds", true},
	{"itimer", "process_cpu", "cpu", "nanoseconds", true},
	{"wall", "wall", "wall", "nanoseconds", true},
	{"seconds", "wall", "wall", "nanoseconds", true},
	{"nanoseconds", "wall", "wall", "nanoseconds", true},
	{"microseconds", "wall", "wall", "nanoseconds", true},
	{"milliseconds", "wall", "wall", "nanoseconds", true},
	{"inuse_objects", "memory", "inuse_objects", "count", false},
	{"inuse_space", "memory", "inuse_space", "bytes", false},
	{"alloc_objects", "memory", "alloc_objects", "count", false},
	{"alloc_space", "memory", "alloc_space", "bytes", false},
	{"goroutines", "goroutine", "goroutines", "count", false},
	{"mutex_count", "mutex", "contentions", "count", false},
	{"mutex_duration", "mutex", "delay", "nanoseconds", false},
	{"block_count", "block", "contentions", "count", false},
	{"lock_count", "block", "contentions", "count", false},
	{"block_duration", "block", "delay", "nanoseconds", false},
	{"lock_duration", "block", "delay", "nanoseconds", false},
	{"alloc_in_new_tlab_objects", "memory", "alloc_in_new_tlab_objects", "count", false},
	{"alloc_in_new_tlab_bytes", "memory", "alloc_in_new_tlab_bytes", "bytes", false},
	{"alloc_outside_tlab_objects", "memory", "alloc_outside_tlab_objects", "count", false},
	{"alloc_outside_tlab_bytes", "memory", "alloc_outside_tlab_bytes", "bytes", false},
	{"live", "memory", "live", "count", false},
	{"exceptions", "exceptions", "samples", "count", false},
	{"bytes", "memory", "samples", "bytes", false},
};

static uint32
intern(PyroSymbols *sym, const char *s)
{
	uint32		i = pyro_sym_intern_string(sym, s, strlen(s));

	if (i == PYRO_NO_INDEX)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return i;
}

/* Store folded or "lines" text sent to /ingest (spec §10.3, §10.7). */
static void
ingest_text(HttpRequest *req, const IngestParams *p, bool lines)
{
	const TextType *tt = NULL;
	PyroProfile *prof;
	PyroError	err;
	PyroStatus	st;
	PyroNormalized n;
	PyroSeriesProfile sp;
	PyroLabelSet ls;
	char	   *types[1];
	char	   *units[1];
	const char *ptype = "";
	const char *punit = "";
	int64		period = 0;
	int			written;

	for (size_t i = 0; i < lengthof(text_types); i++)
		if (strcmp(text_types[i].suffix, p->app.suffix) == 0)
			tt = &text_types[i];
	if (tt == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown profile type suffix \"%s\" in application name \"%s\"",
						p->app.suffix, p->app.name),
				 errhint("Name the application like app.cpu, app.inuse_space or app.wall.")));

	if (lines)
		st = pyro_lines_to_profile(req->body ? req->body : "", req->body_len, &prof, &err);
	else
		st = pyro_folded_to_profile(req->body ? req->body : "", req->body_len, &prof, &err);
	if (st != PYRO_OK)
	{
		if (st == PYRO_ENOMEM)
			pyroscope_report(&err, "could not parse profile text");
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not parse %s profile: %s", lines ? "lines" : "folded", err.msg)));
	}
	if (prof->nsamples == 0)
	{
		pyro_profile_free(prof);
		return;
	}

	types[0] = (char *) tt->type;
	units[0] = (char *) tt->unit;
	if (tt->cpu_like && p->sample_rate != 0)
	{
		int64		scale = INT64CONST(1000000000) / p->sample_rate;

		for (size_t i = 0; i < prof->nsamples; i++)
		{
			if (pg_mul_s64_overflow(prof->samples[i].value, scale, &prof->samples[i].value))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("sample value out of range after scaling by the sample rate")));
		}
		ptype = "cpu";
		punit = "nanoseconds";
		period = scale;
	}
	else if (tt->cpu_like)
	{
		types[0] = "samples";
		units[0] = "count";
	}
	prof->sample_type = intern(prof->sym, types[0]);
	prof->sample_unit = intern(prof->sym, units[0]);
	prof->period_type = intern(prof->sym, ptype);
	prof->period_unit = intern(prof->sym, punit);
	prof->period = period;
	prof->time_nanos = p->from_ms * 1000000;
	prof->duration_nanos = 0;

	memset(&n, 0, sizeof(n));
	memset(&sp, 0, sizeof(sp));
	pyro_labels_init(&sp.sample_labels);
	sp.type_index = 0;
	sp.profile = prof;
	n.sym = prof->sym;
	n.ntypes = 1;
	n.sample_types = types;
	n.sample_units = units;
	n.period_type = (char *) ptype;
	n.period_unit = (char *) punit;
	n.period = period;
	n.time_nanos = prof->time_nanos;
	n.default_name = (char *) tt->name;
	n.series = &sp;
	n.nseries = 1;

	pyro_labels_init(&ls);
	ingest_base_labels(p, &ls);
	set_label(&ls, "__name__", tt->name);
	if (pyro_labels_get(&ls, "service_name") == NULL)
		set_label(&ls, "service_name", p->app.base);
	else if (pyro_labels_get(&ls, "app_name") == NULL)
		set_label(&ls, "app_name", p->app.base);
	written = pyroscope_store_normalized(&n, &ls, req->tenant);
	http_record_ingest(1, prof->nsamples, written);
	pyro_labels_free(&ls);
	pyro_profile_free(prof);
}

/* Store a multipart/form-data body (what pyroscope-go and -nodejs send). */
static void
ingest_multipart(HttpRequest *req, const IngestParams *p, const char *content_type)
{
	PyroMultipartPart *parts;
	size_t		nparts;
	PyroError	err;
	const PyroMultipartPart *profile;
	const PyroMultipartPart *prev;
	const PyroMultipartPart *cfg;
	Jsonb	   *config = NULL;

	if (pyro_multipart_parse((const uint8_t *) (req->body ? req->body : ""), req->body_len,
							 content_type, &parts, &nparts, &err) != PYRO_OK)
	{
		if (err.code == PYRO_ENOMEM)
			pyroscope_report(&err, "could not parse multipart body");
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not parse multipart body: %s", err.msg)));
	}
	profile = pyro_multipart_find(parts, nparts, "profile");
	prev = pyro_multipart_find(parts, nparts, "prev_profile");
	cfg = pyro_multipart_find(parts, nparts, "sample_type_config");
	if (prev && prev->len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cumulative profiles in a \"prev_profile\" part are not supported"),
				 errhint("Upgrade the pyroscope-go client: newer versions send delta profiles.")));
	if (cfg && cfg->len > 0)
	{
		char	   *text = pnstrdup((const char *) cfg->data, cfg->len);

		config = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
		if (!JB_ROOT_IS_OBJECT(config))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("sample_type_config must be a JSON object")));
	}
	if (profile)
		ingest_pprof(req, p, profile->data, profile->len, config);
	pyro_multipart_free(parts, nparts);
}

/*
 * POST /ingest (and /pyroscope/ingest): choose the body format in
 * upstream's order (spec §10.3) and store it.
 */
void
http_handle_ingest(HttpRequest *req)
{
	IngestParams p;
	const char *name = http_query_arg(req, "name");
	const char *ct = http_header(req, "Content-Type");
	const char *rate = http_query_arg(req, "sampleRate");
	const char *fmt;
	PyroError	err;
	int64		now_ms;

	if (name == NULL || name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the \"name\" query parameter is required")));
	if (pyro_parse_app_name(name, strlen(name), &p.app, &err) != PYRO_OK)
	{
		if (err.code == PYRO_ENOMEM)
			pyroscope_report(&err, "could not parse application name");
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid application name \"%s\": %s", name, err.msg)));
	}
	now_ms = (GetCurrentTimestamp() / 1000) +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	pyro_parse_attime(http_query_arg(req, "from"), now_ms, &p.from_ms);
	pyro_parse_attime(http_query_arg(req, "until"), now_ms, &p.until_ms);
	p.format = http_query_arg(req, "format");
	p.spy = http_query_arg(req, "spyName");
	if (p.spy == NULL || p.spy[0] == '\0')
		p.spy = "unknown";
	p.sample_rate = 100;
	if (rate && rate[0] != '\0' && strspn(rate, "0123456789") == strlen(rate) && strlen(rate) < 10)
		p.sample_rate = strtol(rate, NULL, 10);
	if (p.sample_rate > 1000000000)
		p.sample_rate = 100;

	fmt = p.format ? p.format : "";
	if (strcmp(fmt, "trie") == 0 || strcmp(fmt, "tree") == 0 || strcmp(fmt, "jfr") == 0 ||
		strcmp(fmt, "speedscope") == 0 ||
		(ct && (pg_strncasecmp(ct, "binary/octet-stream+trie", 24) == 0 ||
				pg_strncasecmp(ct, "binary/octet-stream+tree", 24) == 0)))
	{
		http_error(req, 415, "invalid_argument",
				   "ingest format \"%s\" is not supported: send pprof, folded or lines",
				   fmt[0] ? fmt : ct);
		pyro_app_name_free(&p.app);
		return;
	}
	if (strcmp(fmt, "lines") == 0)
		ingest_text(req, &p, true);
	else if (strcmp(fmt, "pprof") == 0)
		ingest_pprof(req, &p, (const uint8_t *) req->body, req->body_len, NULL);
	else if (ct && strstr(ct, "multipart/form-data") != NULL)
		ingest_multipart(req, &p, ct);
	else
		ingest_text(req, &p, false);
	pyro_app_name_free(&p.app);
	http_set_body(req, 200, NULL, "", 0);
}
