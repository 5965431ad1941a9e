/*
 * fuzz_app_name.c
 *	  libFuzzer target for the /ingest name grammar and legacy time strings.
 *	  A parsed name must satisfy the grammar's promises: a non-empty name of
 *	  allowed characters, base + "." + suffix == name when there is a
 *	  suffix, and no reserved label other than __session_id__.
 */
#include <stdlib.h>

#include "ingest_params.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PyroAppName a;
	PyroError	err;
	char	   *s;
	int64_t		t;
	size_t		i;

	if (pyro_parse_app_name((const char *) data, size, &a, &err) == PYRO_OK)
	{
		size_t		nl = strlen(a.name);

		if (nl == 0)
			abort();
		for (i = 0; i < nl; i++)
			if (strchr("{} \t,=", a.name[i]) != NULL)
				abort();
		if (a.suffix[0] != '\0' &&
			(strlen(a.base) + 1 + strlen(a.suffix) != nl || a.name[strlen(a.base)] != '.'))
			abort();
		for (i = 0; i < a.labels.n; i++)
			if (strncmp(a.labels.labels[i].name, "__", 2) == 0 &&
				strcmp(a.labels.labels[i].name, "__session_id__") != 0)
				abort();
		pyro_app_name_free(&a);
	}
	s = pyro_strndup((const char *) data, size);
	if (s != NULL)
	{
		pyro_parse_attime(s, 1700000000000LL, &t);
		pyro_parse_attime(s, INT64_MAX, &t);
		pyro_parse_attime(s, INT64_MIN, &t);
		pyro_free(s);
	}
	return 0;
}
