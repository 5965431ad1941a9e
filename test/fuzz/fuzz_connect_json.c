/*
 * fuzz_connect_json.c
 *	  libFuzzer target for the protobuf-JSON parser: parse arbitrary bytes as
 *	  querier.v1.SelectMergeStacktracesRequest, SelectHeatmapRequest,
 *	  SelectSeriesRequest and as push.v1.PushRequest;
 *	  whenever that succeeds, the message re-serialised to JSON must parse
 *	  again, and both messages must pack to identical protobuf bytes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "connect_json.h"
#include "pbc_alloc.h"
#include "push.pb-c.h"
#include "querier.pb-c.h"

static void
check_one(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size)
{
	ProtobufCAllocator *a = (ProtobufCAllocator *) pyro_protobuf_allocator();
	ProtobufCMessage *m1 = NULL,
			   *m2 = NULL;
	PyroError	err;
	PyroBuf		json;
	size_t		n1,
				n2;
	uint8_t    *p1,
			   *p2;

	/* the input as a binary message: the string check must not crash */
	(void) pyro_message_check_strings(d, data, size, &err);
	if (pyro_json_to_message(d, (const char *) data, size, &m1, &err) != PYRO_OK)
	{
		if (m1 != NULL || err.msg[0] == '\0')
			abort();
		return;
	}
	pyro_buf_init(&json);
	if (pyro_message_to_json(m1, &json) != PYRO_OK)
		abort();
	if (pyro_json_to_message(d, (const char *) json.data, json.len, &m2, &err) != PYRO_OK)
	{
		fprintf(stderr, "re-parse failed: %s\n%.*s\n", err.msg, (int) json.len,
				(const char *) json.data);
		abort();
	}
	n1 = protobuf_c_message_get_packed_size(m1);
	n2 = protobuf_c_message_get_packed_size(m2);
	p1 = malloc(n1 + 1);
	p2 = malloc(n2 + 1);
	protobuf_c_message_pack(m1, p1);
	protobuf_c_message_pack(m2, p2);
	/* strings that came through JSON are valid UTF-8 without NUL */
	if (pyro_message_check_strings(d, p1, n1, &err) != PYRO_OK)
	{
		fprintf(stderr, "string check refused a message made from JSON: %s\n", err.msg);
		abort();
	}
	if (n1 != n2 || memcmp(p1, p2, n1) != 0)
	{
		fprintf(stderr, "packings differ after a JSON round trip\n%.*s\n",
				(int) json.len, (const char *) json.data);
		abort();
	}
	free(p1);
	free(p2);
	pyro_buf_free(&json);
	protobuf_c_message_free_unpacked(m1, a);
	protobuf_c_message_free_unpacked(m2, a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_one(&querier__v1__select_merge_stacktraces_request__descriptor, data, size);
	check_one(&querier__v1__select_heatmap_request__descriptor, data, size);
	check_one(&querier__v1__select_series_request__descriptor, data, size);
	check_one(&push__v1__push_request__descriptor, data, size);
	return 0;
}
