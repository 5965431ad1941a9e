/*-------------------------------------------------------------------------
 *
 * http_push.c
 *	  The push endpoints: Connect push.v1.PusherService/Push (spec §6) and
 *	  the legacy POST /ingest (spec §10): raw pprof, pprof in
 *	  multipart/form-data, folded and "lines" text.
 *
 * A protocol adapter: it decodes the request and hands every profile to
 * the engine in the request's transaction, pprof to the same entry as the
 * SQL function pyroscope.ingest_pprof() (pyroscope_store_pprof: one set
 * of limits, one decode, one __name__ and time rule), text profiles to
 * pyroscope_store_text_profile.  A request that fails anywhere stores
 * nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "gen/push.pb-c.h"
#include "ingest_params.h"
#include "otlp.h"
#include "labels.h"
#include "pprof.h"
#include "engine.h"

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

		const char *dup;
		bool		oom;

		pyroscope_check_interrupts();

		/*
		 * The series' own labels are counted against the limit before
		 * anything looks at them (the count can only grow from here), and
		 * duplicates are found on a sorted copy: no step is quadratic in what
		 * a client sends.
		 */
		if (pyroscope_max_label_names > 0 && rs->n_labels > (size_t) pyroscope_max_label_names)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("series %zu has %zu labels, more than the limit of %d",
							s, rs->n_labels, pyroscope_max_label_names),
					 errhint("The limit is pyroscope.max_label_names.")));
		pyro_labels_init(&client);
		for (size_t l = 0; l < rs->n_labels; l++)
		{
			const char *name = rs->labels[l]->name;

			pyroscope_check_interrupts();
			if (name == NULL || name[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("series %zu has a label with an empty name", s)));
			if (!pyro_labels_append(&client, name,
									rs->labels[l]->value ? rs->labels[l]->value : ""))
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		}
		dup = pyro_labels_duplicate(&client, &oom);
		if (oom)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		if (dup)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("duplicate label name \"%s\" in series %zu", dup, s)));
		for (size_t i = 0; i < rs->n_samples; i++)
		{
			ProtobufCBinaryData *raw = &rs->samples[i]->raw_profile;
			uint64		n;

			pyroscope_check_interrupts();
			if (raw->len == 0)
				continue;
			written += pyroscope_store_pprof(pyroscope_pprof_bytea(raw->data, raw->len),
											 &client, req->tenant, NULL, &n);
			samples += n;
			profiles++;
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
 * The display names of a sample_type_config (spec §10.4): for every
 * sample type it names, its "display-name" (or NULL).
 */
static PyroDisplayName *
config_display_names(Jsonb *config, size_t *n)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	PyroDisplayName *out;
	size_t		cap = 8;
	int			depth = 0;

	out = palloc(sizeof(PyroDisplayName) * cap);
	*n = 0;
	it = JsonbIteratorInit(&config->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		pyroscope_check_interrupts();
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		else if (tok == WJB_KEY && depth == 1)
		{
			if (*n == cap)
			{
				cap *= 2;
				out = repalloc(out, sizeof(PyroDisplayName) * cap);
			}
			out[*n].type = pnstrdup(v.val.string.val, v.val.string.len);
			out[*n].display = NULL;
			(*n)++;
		}
		else if (tok == WJB_KEY && depth == 2 && *n > 0 &&
				 v.val.string.len == strlen("display-name") &&
				 memcmp(v.val.string.val, "display-name", v.val.string.len) == 0)
		{
			tok = JsonbIteratorNext(&it, &v, false);
			if (tok == WJB_VALUE && v.type == jbvString)
				out[*n - 1].display = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
				depth++;
		}
	}
	return out;
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

/*
 * Store a pprof sent to /ingest, raw or from a form (spec §10.4); an empty
 * raw body is not a pprof (400), as in SQL.
 */
static void
ingest_pprof(HttpRequest *req, const IngestParams *p, const uint8_t *data, size_t len,
			 Jsonb *config)
{
	PyroLabelSet ls;
	PyroIngestOptions opt;
	uint64		samples;
	int			written;

	memset(&opt, 0, sizeof(opt));
	opt.fallback = pyroscope_ms_to_timestamptz(p->from_ms);
	if (config)
	{
		opt.has_config = true;
		opt.config = config_display_names(config, &opt.nconfig);
	}
	pyro_labels_init(&ls);
	ingest_base_labels(p, &ls);
	if (pyro_labels_get(&ls, "service_name") == NULL)
		set_label(&ls, "service_name", p->app.name);
	if (strcmp(p->spy, "pyspy") == 0 || strcmp(p->spy, "rbspy") == 0 ||
		strcmp(p->spy, "scripting") == 0)
	{
		/*
		 * old scripting agents: "<filename> <function>", as upstream names
		 * them
		 */
		PyroBuf		fixed;
		PyroError	err;
		bool		changed;

		if (pyro_pprof_fix_script_names(data, len, strcmp(p->spy, "pyspy") == 0,
										(size_t) pyroscope_max_profile_size, &fixed, &changed,
										&err) != PYRO_OK)
			pyroscope_report(&err, "could not decode pprof profile");
		if (changed)
		{
			written = pyroscope_store_pprof(pyroscope_pprof_bytea(fixed.data, fixed.len), &ls,
											req->tenant, &opt, &samples);
			pyro_buf_free(&fixed);
			http_record_ingest(1, samples, written);
			pyro_labels_free(&ls);
			return;
		}
		pyro_buf_free(&fixed);
	}
	written = pyroscope_store_pprof(pyroscope_pprof_bytea(data, len), &ls, req->tenant,
									&opt, &samples);
	http_record_ingest(1, samples, written);
	pyro_labels_free(&ls);
}

/* Store folded or "lines" text sent to /ingest (spec §10.3, §10.7). */
static void
ingest_text(HttpRequest *req, const IngestParams *p, bool lines)
{
	const PyroTextType *tt = pyro_text_type(p->app.suffix);
	PyroProfile *prof;
	PyroError	err;
	PyroStatus	st;
	PyroLabelSet ls;
	int			written;

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

	pyro_labels_init(&ls);
	ingest_base_labels(p, &ls);
	if (pyro_labels_get(&ls, "service_name") == NULL)
		set_label(&ls, "service_name", p->app.base);
	else if (pyro_labels_get(&ls, "app_name") == NULL)
		set_label(&ls, "app_name", p->app.base);
	written = pyroscope_store_text_profile(prof, tt, p->sample_rate, p->from_ms, &ls,
										   req->tenant, Max(req->body_len, 1));
	http_record_ingest(1, prof->nsamples, written);
	pyro_labels_free(&ls);
	pyro_profile_free(prof);
}

/*
 * Store a JFR recording sent to /ingest?format=jfr (spec API-2 §1.1): the
 * whole body, or the "jfr" and "labels" parts of a form (what the Java
 * agent sends).  Bad input is 422, as upstream answers it: the agent
 * drops an upload on any 4xx but 429.
 */
static void
ingest_jfr(HttpRequest *req, const IngestParams *p, const char *content_type)
{
	const uint8_t *jfr = (const uint8_t *) (req->body ? req->body : "");
	size_t		jfr_len = req->body_len;
	const uint8_t *labels = NULL;
	size_t		labels_len = 0;
	PyroMultipartPart *parts = NULL;
	size_t		nparts = 0;
	PyroJfrIngest opt;
	PyroLabelSet ls;
	uint64		profiles,
				samples;
	int			written;

	req->bad_input_status = 422;
	if (content_type && strstr(content_type, "multipart/form-data") != NULL)
	{
		const PyroMultipartPart *part;
		PyroError	err;

		if (pyro_multipart_parse(jfr, jfr_len, content_type, &parts, &nparts, &err) != PYRO_OK)
		{
			if (err.code == PYRO_ENOMEM)
				pyroscope_report(&err, "could not parse multipart body");
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not parse multipart body: %s", err.msg)));
		}
		part = pyro_multipart_find(parts, nparts, "jfr");
		if (part == NULL || part->len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("jfr field is required")));
		jfr = part->data;
		jfr_len = part->len;
		part = pyro_multipart_find(parts, nparts, "labels");
		if (part && part->len > 0)
		{
			labels = part->data;
			labels_len = part->len;
		}
	}
	memset(&opt, 0, sizeof(opt));
	opt.sample_rate = p->sample_rate;
	opt.has_time = true;
	opt.at = pyroscope_ms_to_timestamptz(p->from_ms);
	if (p->until_ms > p->from_ms)
		opt.duration_nanos = (p->until_ms - p->from_ms) * 1000000;

	/* the app name is service_name as it is (no suffix to strip) */
	pyro_labels_init(&ls);
	ingest_base_labels(p, &ls);
	if (pyro_labels_get(&ls, "service_name") == NULL)
		set_label(&ls, "service_name", p->app.name);
	else
		set_label(&ls, "app_name", p->app.name);
	written = pyroscope_store_jfr(jfr, jfr_len, labels, labels_len, &ls, req->tenant, &opt,
								  &profiles, &samples);
	http_record_ingest(profiles, samples, written);
	pyro_labels_free(&ls);
	if (parts)
		pyro_multipart_free(parts, nparts);
}

/*
 * Store a speedscope document sent to /ingest?format=speedscope (spec
 * API-2 §4): the body is the JSON document.  Bad input is 422, as upstream
 * answers it.
 */
static void
ingest_speedscope(HttpRequest *req, const IngestParams *p)
{
	PyroSpeedscopeIngest opt;
	PyroLabelSet ls;
	uint64		profiles,
				samples;
	int			written;

	req->bad_input_status = 422;
	memset(&opt, 0, sizeof(opt));
	opt.suffix = p->app.suffix;
	opt.sample_rate = p->sample_rate;
	opt.time_ms = p->from_ms;
	opt.app_name = p->app.name;
	opt.app_base = p->app.base;
	pyro_labels_init(&ls);
	ingest_base_labels(p, &ls);
	written = pyroscope_store_speedscope(req->body ? req->body : "", req->body_len, &opt, &ls,
										 req->tenant, &profiles, &samples);
	http_record_ingest(profiles, samples, written);
	pyro_labels_free(&ls);
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
	if (profile && profile->len > 0)
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
	now_ms = pyroscope_timestamptz_to_ms(GetCurrentTimestamp());
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
	if (strcmp(fmt, "trie") == 0 || strcmp(fmt, "tree") == 0 ||
		(ct && (pg_strncasecmp(ct, "binary/octet-stream+trie", 24) == 0 ||
				pg_strncasecmp(ct, "binary/octet-stream+tree", 24) == 0)))
	{
		http_error(req, 415, "invalid_argument",
				   "ingest format \"%s\" is not supported: send pprof, jfr, speedscope, folded or lines",
				   fmt[0] ? fmt : ct);
		pyro_app_name_free(&p.app);
		return;
	}
	if (req->body_len == 0)
	{
		pyro_app_name_free(&p.app);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the request body is empty: there is no profile to store")));
	}
	if (strcmp(fmt, "jfr") == 0)
		ingest_jfr(req, &p, ct);
	else if (strcmp(fmt, "speedscope") == 0)
		ingest_speedscope(req, &p);
	else if (strcmp(fmt, "lines") == 0)
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

/*
 * POST /v1development/profiles (and ProfilesService/Export over HTTP/1.1):
 * an OTLP ExportProfilesServiceRequest, binary or JSON, gzip or not (spec
 * API-2 §2.1).  Answers an ExportProfilesServiceResponse in the request's
 * encoding, with partial_success when some profiles were not stored.  gRPC
 * (HTTP/2) is not served: collectors use the otlphttp exporter.
 */
void
http_handle_otlp(HttpRequest *req)
{
	const char *ct = http_header(req, "Content-Type");
	const char *ce = http_header(req, "Content-Encoding");
	char		media[64];
	size_t		n = 0;
	bool		json;
	const uint8_t *body = (const uint8_t *) (req->body ? req->body : "");
	size_t		len = req->body_len;
	PyroBuf		raw;
	PyroBuf		resp;
	PyroError	err;
	PyroOtlpIngest res;

	/* the media type, parameters and case aside */
	while (ct && ct[n] && ct[n] != ';' && n < sizeof(media) - 1)
	{
		media[n] = pg_ascii_tolower((unsigned char) ct[n]);
		n++;
	}
	while (n > 0 && (media[n - 1] == ' ' || media[n - 1] == '\t'))
		n--;
	media[n] = '\0';
	if (strcmp(media, "application/x-protobuf") == 0 || strcmp(media, "application/protobuf") == 0)
		json = false;
	else if (strcmp(media, "application/json") == 0)
		json = true;
	else
	{
		http_error(req, 415, "invalid_argument",
				   "Unsupported Content-Type: %s (send application/x-protobuf or application/json; gRPC is not served, use the otlphttp exporter)",
				   ct ? ct : "none");
		return;
	}
	pyro_buf_init(&raw);
	if ((ce && pg_strcasecmp(ce, "gzip") == 0) || pyro_is_gzip(body, len))
	{
		if (pyro_gunzip(body, len, (size_t) pyroscope_max_otlp_size, &raw, &err) != PYRO_OK)
		{
			pyro_buf_free(&raw);
			if (err.code == PYRO_ELIMIT)
				http_error(req, 413, "resource_exhausted",
						   "the request exceeds pyroscope.max_otlp_size (%d bytes) after decompression",
						   pyroscope_max_otlp_size);
			else
				http_error(req, 400, "invalid_argument", "could not decompress the request: %s",
						   err.msg);
			return;
		}
		body = raw.data;
		len = raw.len;
	}
	if (len > (size_t) pyroscope_max_otlp_size)
	{
		pyro_buf_free(&raw);
		http_error(req, 413, "resource_exhausted",
				   "the request exceeds pyroscope.max_otlp_size (%d bytes)", pyroscope_max_otlp_size);
		return;
	}
	pyroscope_store_otlp(body ? body : (const uint8_t *) "", len, json, req->tenant, &res);
	pyro_buf_free(&raw);
	http_record_ingest(res.profiles, res.samples, res.written);
	if (res.rejected > 0)
		http_record_discard(req->tenant, PYRO_DISCARD_NO_TYPE, (uint64) res.rejected,
							res.rejected_samples, 0);
	if (pyro_otlp_response(res.rejected, res.rejected_msg, json, &resp, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode the response");
	http_set_body(req, 200, json ? "application/json" : "application/x-protobuf",
				  (const char *) (resp.data ? resp.data : (const uint8_t *) ""), resp.len);
	pyro_buf_free(&resp);
}
