/*-------------------------------------------------------------------------
 *
 * fuzz_http.c
 *	  libFuzzer target for what the HTTP request handlers do with a request
 *	  body before anything touches the database: the first byte picks the
 *	  route, the rest is the body.  Push (proto and JSON: the string check,
 *	  decoding, the label count limit and duplicate check, every pprof
 *	  summarised and every series labelled as ingest does), /ingest (pprof,
 *	  folded, lines, multipart with sample_type_config), every querier and
 *	  settings request (proto and JSON, then the selectors and profile type
 *	  ids they carry), and render's query string.  The handlers themselves
 *	  run inside PostgreSQL; these are the same core calls, in their order.
 *	  Inputs are large (see fuzz_http.options): the corpus holds a push
 *	  with 50,000 labels, which once took a worker for minutes.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>

#include "connect_json.h"
#include "ingest_params.h"
#include "labels.h"
#include "pbc_alloc.h"
#include "pprof.h"
#include "profile.h"
#include "push.pb-c.h"
#include "querier.pb-c.h"
#include "selector.h"
#include "settings.pb-c.h"
#include "types.pb-c.h"

/* pyroscope.max_label_names and the other label limits, at their defaults */
#define MAX_LABEL_NAMES 30

static void
check_selector(const char *s)
{
	PyroSelector *sel;
	PyroError	err;

	if (s == NULL)
		return;
	if (pyro_selector_parse(s, strlen(s), &sel, &err) == PYRO_OK)
	{
		if (sel->nmatchers > PYRO_SELECTOR_MAX_MATCHERS)
			abort();
		pyro_selector_free(sel);
	}
}

static void
check_profile_type(const char *s)
{
	PyroProfileType pt;
	PyroError	err;

	if (s != NULL && pyro_profile_type_parse(s, strlen(s), &pt, &err) == PYRO_OK)
		pyro_profile_type_free(&pt);
}

/* a pprof as ingest stores it: summarised, each series labelled */
static void
ingest_pprof(const uint8_t *data, size_t len, const PyroLabelSet *client)
{
	PyroNormalized *n;
	PyroError	err;
	PyroLabelLimits limits = {MAX_LABEL_NAMES, 1024, 2048};

	if (pyro_pprof_summarize(data, len, NULL, &n, &err) != PYRO_OK)
	{
		if (err.msg[0] == '\0')
			abort();
		return;
	}
	for (size_t i = 0; i < n->nseries; i++)
	{
		const PyroSeriesProfile *sp = &n->series[i];
		PyroLabelSet labels;
		char	   *type_id = NULL;

		pyro_labels_init(&labels);
		if (pyro_series_labels(client, &sp->sample_labels, n->default_name,
							   n->sample_types[sp->type_index],
							   n->sample_units[sp->type_index],
							   n->period_type, n->period_unit,
							   &limits, &labels, &type_id, &err) == PYRO_OK)
		{
			if (labels.n == 0 || type_id == NULL)
				abort();
		}
		pyro_labels_free(&labels);
		pyro_free(type_id);
	}
	pyro_normalized_free(n);
}

/* Push: what http_handle_push does with each series */
static void
push(const ProtobufCMessage *m)
{
	const Push__V1__PushRequest *pr = (const Push__V1__PushRequest *) m;

	for (size_t s = 0; s < pr->n_series; s++)
	{
		const Push__V1__RawProfileSeries *rs = pr->series[s];
		PyroLabelSet client;
		bool		oom;
		bool		bad = false;

		if (rs->n_labels > MAX_LABEL_NAMES)
			continue;			/* refused before looking at them */
		pyro_labels_init(&client);
		for (size_t l = 0; l < rs->n_labels && !bad; l++)
		{
			const char *name = rs->labels[l]->name;

			if (name == NULL || name[0] == '\0')
				bad = true;
			else if (!pyro_labels_append(&client, name,
										 rs->labels[l]->value ? rs->labels[l]->value : ""))
				abort();
		}
		if (!bad && pyro_labels_duplicate(&client, &oom) == NULL && !oom)
		{
			for (size_t i = 0; i < rs->n_samples; i++)
				if (rs->samples[i]->raw_profile.len > 0)
					ingest_pprof(rs->samples[i]->raw_profile.data,
								 rs->samples[i]->raw_profile.len, &client);
		}
		pyro_labels_free(&client);
	}
}

/*
 * The profile type ids and selectors a querier request carries, in nested
 * messages too (Diff's left and right), found by field name as the
 * handlers read them: profile_typeID; label_selector, matchers, query.
 */
static void
query(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++)
	{
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *member = (const char *) m + f->offset;
		bool		selector = strcmp(f->name, "label_selector") == 0 ||
		strcmp(f->name, "matchers") == 0 || strcmp(f->name, "query") == 0;

		if (f->type == PROTOBUF_C_TYPE_STRING && f->label == PROTOBUF_C_LABEL_REPEATED)
		{
			size_t		n = *(const size_t *) ((const char *) m + f->quantifier_offset);
			char	  **v = *(char **const *) member;

			for (size_t j = 0; j < n && selector; j++)
				check_selector(v[j]);
		}
		else if (f->type == PROTOBUF_C_TYPE_STRING)
		{
			const char *v = *(const char *const *) member;

			if (strcmp(f->name, "profile_typeID") == 0)
				check_profile_type(v);
			else if (selector)
				check_selector(v);
		}
		else if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED &&
				 depth < 4 && *(ProtobufCMessage *const *) member != NULL)
			query(*(ProtobufCMessage *const *) member, depth + 1);
	}
}

static const ProtobufCMessageDescriptor *const requests[] = {
	&push__v1__push_request__descriptor,
	&querier__v1__select_merge_stacktraces_request__descriptor,
	&querier__v1__select_series_request__descriptor,
	&querier__v1__select_merge_profile_request__descriptor,
	&querier__v1__select_merge_span_profile_request__descriptor,
	&querier__v1__diff_request__descriptor,
	&querier__v1__analyze_query_request__descriptor,
	&querier__v1__profile_types_request__descriptor,
	&types__v1__label_names_request__descriptor,
	&types__v1__label_values_request__descriptor,
	&querier__v1__series_request__descriptor,
	&types__v1__get_profile_stats_request__descriptor,
	&querier__v1__select_heatmap_request__descriptor,
	&settings__v1__set_settings_request__descriptor,
};
#define NREQUESTS (sizeof(requests) / sizeof(requests[0]))

/* a Connect request: binary (string check, then unpack) or JSON */
static void
connect_request(const ProtobufCMessageDescriptor *d, bool json, const uint8_t *body, size_t len)
{
	ProtobufCAllocator *a = (ProtobufCAllocator *) pyro_protobuf_allocator();
	ProtobufCMessage *m = NULL;
	PyroError	err;

	if (json)
	{
		if (pyro_json_to_message(d, (const char *) body, len, &m, &err) != PYRO_OK)
			return;
	}
	else
	{
		if (pyro_message_check_strings(d, body, len, &err) != PYRO_OK)
			return;
		m = protobuf_c_message_unpack(d, a, len, body);
		if (m == NULL)
			return;
	}
	if (d == &push__v1__push_request__descriptor)
		push(m);
	else
		query(m, 0);
	protobuf_c_message_free_unpacked(m, a);
}

/* /ingest: multipart with a profile and a sample_type_config */
static void
ingest_multipart(const uint8_t *body, size_t len)
{
	PyroMultipartPart *parts;
	size_t		n;
	PyroError	err;
	PyroLabelSet client;
	const PyroMultipartPart *p;

	if (pyro_multipart_parse(body, len, "multipart/form-data; boundary=XX", &parts, &n,
							 &err) != PYRO_OK)
		return;
	pyro_labels_init(&client);
	if (!pyro_labels_append(&client, "service_name", "fuzz"))
		abort();
	if ((p = pyro_multipart_find(parts, n, "profile")) != NULL)
		ingest_pprof(p->data, p->len, &client);
	pyro_labels_free(&client);
	pyro_multipart_free(parts, n);
}

static void
ingest_text(const uint8_t *body, size_t len, bool lines)
{
	PyroProfile *prof;
	PyroError	err;
	PyroStatus	st = lines ? pyro_lines_to_profile((const char *) body, len, &prof, &err)
	: pyro_folded_to_profile((const char *) body, len, &prof, &err);

	if (st == PYRO_OK)
		pyro_profile_free(prof);
}

/* render's query parameter: <profile type>{selector} */
static void
render_query(const uint8_t *body, size_t len)
{
	char	   *q = pyro_strndup((const char *) body, len);
	PyroSelector *sel;
	PyroError	err;

	if (q == NULL)
		return;
	if (strlen(q) == len && pyro_selector_parse(q, len, &sel, &err) == PYRO_OK)
	{
		check_profile_type(sel->metric_name);
		pyro_selector_free(sel);
	}
	pyro_free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *body = data + 1;
	size_t		len;
	unsigned	route;

	if (size == 0)
		return 0;
	len = size - 1;
	route = data[0] % (2 * NREQUESTS + 5);
	if (route < 2 * NREQUESTS)
		connect_request(requests[route / 2], route % 2 == 1, body, len);
	else
	{
		PyroLabelSet client;

		switch (route - 2 * NREQUESTS)
		{
			case 0:
				pyro_labels_init(&client);
				if (!pyro_labels_append(&client, "service_name", "fuzz"))
					abort();
				ingest_pprof(body, len, &client);
				pyro_labels_free(&client);
				break;
			case 1:
				ingest_text(body, len, false);
				break;
			case 2:
				ingest_text(body, len, true);
				break;
			case 3:
				ingest_multipart(body, len);
				break;
			default:
				render_query(body, len);
				break;
		}
	}
	return 0;
}
