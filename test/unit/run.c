/*-------------------------------------------------------------------------
 *
 * run.c
 *	  Runs every unit-test suite of the core and prints one line per
 *	  failing test and a closing "N passed, N failed" line.  An optional
 *	  argument selects the tests whose name contains it.
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include "suites.h"

int			unit_failures;
const char *unit_data_dir = "test/data";

unsigned char *
unit_read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *buf;
	long		n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
	{
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = 0;
	*len = (size_t) n;
	return buf;
}

const char *
unit_data_path(const char *rel)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", unit_data_dir, rel);
	return path;
}

int
main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int			passed = 0;
	int			failed = 0;

	if (getenv("PYRO_TESTDATA"))
		unit_data_dir = getenv("PYRO_TESTDATA");

	for (size_t s = 0; s < sizeof(all_suites) / sizeof(all_suites[0]); s++)
	{
		const UnitTest *t = all_suites[s].tests;

		for (size_t i = 0; t[i].name != NULL; i++)
		{
			if (filter && strstr(t[i].name, filter) == NULL &&
				strstr(all_suites[s].name, filter) == NULL)
				continue;
			unit_failures = 0;
			t[i].fn();
			if (unit_failures)
			{
				printf("FAIL %s.%s\n", all_suites[s].name, t[i].name);
				failed++;
			}
			else
				passed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
