/*-------------------------------------------------------------------------
 *
 * selector.h
 *	  Prometheus-style label selectors (spec §14.1):
 *	  {service_name="api", env=~"prod|stage", pod!="x"}, name{...}, name.
 *
 * The parser only parses; regular expressions are checked and evaluated by
 * the caller (the engine uses PostgreSQL's regex engine, anchored).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_SELECTOR_H
#define PYRO_SELECTOR_H

#include "common.h"

/* most matchers one selector may have (each becomes a condition of a query) */
#define PYRO_SELECTOR_MAX_MATCHERS 256

typedef enum PyroMatchOp
{
	PYRO_MATCH_EQ,				/* = */
	PYRO_MATCH_NEQ,				/* != */
	PYRO_MATCH_RE,				/* =~ */
	PYRO_MATCH_NRE				/* !~ */
} PyroMatchOp;

typedef struct PyroMatcher
{
	char	   *name;			/* NUL-terminated, unescaped */
	char	   *value;			/* NUL-terminated, unescaped (may contain no
								 * NUL) */
	PyroMatchOp op;
} PyroMatcher;

typedef struct PyroSelector
{
	char	   *metric_name;	/* name before '{', or NULL (not added to
								 * matchers) */
	PyroMatcher *matchers;
	size_t		nmatchers;
} PyroSelector;

/*
 * Parse a selector.  An empty or all-blank string is "{}".  String literals
 * accept "..." and '...' with Go escapes and `raw`; label names are
 * [a-zA-Z_][a-zA-Z0-9_]* or a double-quoted UTF-8 string; the metric name
 * is [a-zA-Z_:][a-zA-Z0-9_:]*.  A NUL byte anywhere (input or unescaped
 * value) is an error.  On error *out is NULL and err says where and why.
 */
extern PyroStatus pyro_selector_parse(const char *s, size_t len, PyroSelector **out,
									  PyroError *err);
extern void pyro_selector_free(PyroSelector *sel);

/*
 * Append the canonical text form metric{name="value",...} to out: no
 * blanks, values double-quoted with Go-style escapes, label names quoted
 * when not legacy.  For any selector from pyro_selector_parse,
 * parse(to_string(x)) == x.  Out of memory sets out->oom.
 */
extern void pyro_selector_to_string(const PyroSelector *sel, PyroBuf *out);

/* Literal operator text: "=", "!=", "=~", "!~". */
extern const char *pyro_match_op_str(PyroMatchOp op);

#endif							/* PYRO_SELECTOR_H */
