/*
 * fuzz_selector.c
 *	  libFuzzer target for the label-selector parser: parse arbitrary bytes;
 *	  whenever that succeeds, the canonical text must parse again to an
 *	  equal selector and print byte-identically (a fixed point).
 */
#include <stdio.h>
#include <stdlib.h>

#include "selector.h"

static bool
same_selector(const PyroSelector *a, const PyroSelector *b)
{
	if ((a->metric_name == NULL) != (b->metric_name == NULL))
		return false;
	if (a->metric_name && strcmp(a->metric_name, b->metric_name) != 0)
		return false;
	if (a->nmatchers != b->nmatchers)
		return false;
	for (size_t i = 0; i < a->nmatchers; i++)
	{
		if (a->matchers[i].op != b->matchers[i].op ||
			strcmp(a->matchers[i].name, b->matchers[i].name) != 0 ||
			strcmp(a->matchers[i].value, b->matchers[i].value) != 0)
			return false;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PyroSelector *a = NULL;
	PyroSelector *b = NULL;
	PyroError	err;
	PyroBuf		s1,
				s2;

	if (pyro_selector_parse((const char *) data, size, &a, &err) != PYRO_OK)
	{
		if (a != NULL || err.code == PYRO_OK || err.msg[0] == '\0')
			abort();
		return 0;
	}
	pyro_buf_init(&s1);
	pyro_buf_init(&s2);
	pyro_selector_to_string(a, &s1);
	if (s1.oom)
		abort();
	if (pyro_selector_parse((const char *) s1.data, s1.len, &b, &err) != PYRO_OK)
	{
		fprintf(stderr, "canonical form [%s] does not parse: %s\n",
				(const char *) s1.data, err.msg);
		abort();
	}
	if (!same_selector(a, b))
	{
		fprintf(stderr, "canonical form [%s] parses to a different selector\n",
				(const char *) s1.data);
		abort();
	}
	pyro_selector_to_string(b, &s2);
	if (s2.oom || s1.len != s2.len || memcmp(s1.data, s2.data, s1.len) != 0)
		abort();
	pyro_selector_free(a);
	pyro_selector_free(b);
	pyro_buf_free(&s1);
	pyro_buf_free(&s2);
	return 0;
}
