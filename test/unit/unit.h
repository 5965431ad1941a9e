/*-------------------------------------------------------------------------
 *
 * unit.h
 *	  A minimal unit-test harness for the pure-C core.  Each test file
 *	  defines functions with TEST(name) and lists them in a
 *	  UNIT_TESTS(...) table; test/unit/run.c runs every table and prints
 *	  "N passed, N failed".
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_UNIT_H
#define PYRO_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct UnitTest
{
	const char *name;
	void		(*fn) (void);
} UnitTest;

extern int	unit_failures;		/* failures within the current test */
extern const char *unit_data_dir;	/* test/data, or $PYRO_TESTDATA */

#define TEST(name) static void name(void)

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failures++; \
		} \
	} while (0)

#define CHECK_EQ_INT(a, b) \
	do { \
		long long _a = (long long) (a), _b = (long long) (b); \
		if (_a != _b) { \
			fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", \
					__FILE__, __LINE__, #a, #b, _a, _b); \
			unit_failures++; \
		} \
	} while (0)

#define CHECK_EQ_STR(a, b) \
	do { \
		const char *_a = (a), *_b = (b); \
		if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) { \
			fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
					__FILE__, __LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); \
			unit_failures++; \
		} \
	} while (0)

/* Abort the current test when cond fails (to avoid NULL dereferences). */
#define REQUIRE(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failures++; \
			return; \
		} \
	} while (0)

/* Each test file ends with UNIT_SUITE(suitename, test1, test2, ...). */
#define UNIT_ENTRY(fn) { #fn, fn }

/* read a whole file; returns malloc'd bytes or NULL */
extern unsigned char *unit_read_file(const char *path, size_t *len);

/* path under the test data directory (static buffer) */
extern const char *unit_data_path(const char *rel);

#endif
