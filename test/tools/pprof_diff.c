/*-------------------------------------------------------------------------
 *
 * pprof_diff.c
 *	  Differential check of the hand-written pprof decoder against the
 *	  protobuf-c reference over every pprof file under the given
 *	  directories (or files), under every limit set of test/pprof_diff.h.
 *	  Used by `make -f core.mk pprof-diff` on ../shared/testdata/pprof.
 *
 *	  usage: pprof_diff DIR|FILE...      exit status 1 on any disagreement
 *
 *-------------------------------------------------------------------------
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pprof_diff.h"

static int	nfiles;
static int	nfailed;

static int
visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *dot = strrchr(path, '.');
	FILE	   *f;
	uint8_t    *data;
	size_t		len;
	bool		ok = true;

	(void) ftw;
	if (type != FTW_F || (dot && (strcmp(dot, ".json") == 0 || strcmp(dot, ".folded") == 0 ||
								  strcmp(dot, ".md") == 0)))
		return 0;
	len = (size_t) st->st_size;
	data = malloc(len ? len : 1);
	f = fopen(path, "rb");
	if (data == NULL || f == NULL || fread(data, 1, len, f) != len)
	{
		fprintf(stderr, "cannot read %s\n", path);
		nfailed++;
		if (f)
			fclose(f);
		free(data);
		return 0;
	}
	fclose(f);
	nfiles++;
	for (int l = 0; l < PPROF_DIFF_NLIMITS; l++)
	{
		PyroPprofLimits lim;
		char		why[1024];

		pprof_diff_limits(l, &lim);
		if (!pprof_diff(data, len, &lim, NULL, why, sizeof(why)))
		{
			fprintf(stderr, "%s (limits %d): %s\n", path, l, why);
			ok = false;
		}
	}
	if (!ok)
		nfailed++;
	free(data);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		fprintf(stderr, "usage: pprof_diff DIR|FILE...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (nftw(argv[i], visit, 8, FTW_PHYS) != 0)
		{
			fprintf(stderr, "cannot walk %s\n", argv[i]);
			return 2;
		}
	printf("pprof_diff: %d files, %d with differences\n", nfiles, nfailed);
	return nfailed ? 1 : 0;
}
