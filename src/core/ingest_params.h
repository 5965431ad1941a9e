/*-------------------------------------------------------------------------
 *
 * ingest_params.h
 *	  Helpers of the legacy POST /ingest endpoint (spec §10, §15.1): the
 *	  "name" parameter grammar, legacy time strings, multipart/form-data
 *	  bodies and folded ("collapsed") stack text.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_INGEST_PARAMS_H
#define PYRO_INGEST_PARAMS_H

#include "common.h"
#include "labels.h"
#include "profile.h"

/*
 * The "name" query parameter, app.cpu{k=v,k2=v2} (spec §10.2).
 *	name: everything before the first '{', trimmed ("app.cpu").
 *	base: name without its last '.'-separated component ("app"); the whole
 *		  name when it has no '.'.
 *	suffix: that last component ("cpu"), "" when the name has no '.'
 *		  (the text path then means cpu, spec §10.7).
 *	labels: the inline labels, keys starting with "__" dropped except
 *		  "__session_id__" (so "__name__" is filtered out too); a key given
 *		  twice keeps its last value.  Not sorted.
 */
typedef struct PyroAppName
{
	char	   *name;
	char	   *base;
	char	   *suffix;
	PyroLabelSet labels;
} PyroAppName;

extern PyroStatus pyro_parse_app_name(const char *name, size_t len,
									  PyroAppName *out, PyroError *err);
extern void pyro_app_name_free(PyroAppName *a);

/*
 * A legacy time string (spec §15.1) in Unix milliseconds.  Never fails:
 * anything not understood is "now" (now_ms).
 */
extern void pyro_parse_attime(const char *s, int64_t now_ms, int64_t *out_ms);

/*
 * Profile types of the text formats (folded, lines), chosen by the app
 * name's suffix (spec §10.7): __name__, sample type and unit, and whether
 * the type is CPU-like (scaled by sampleRate).  pyro_text_type returns
 * NULL for an unknown suffix.
 */
typedef struct PyroTextType
{
	const char *suffix;
	const char *name;
	const char *type;
	const char *unit;
	bool		cpu_like;		/* scaled by sampleRate, period
								 * cpu:nanoseconds */
} PyroTextType;

extern const PyroTextType *pyro_text_type(const char *suffix);

/*
 * Type a profile parsed from text as tt says: sample type and unit; for a
 * CPU-like type with sample_rate != 0, values multiplied by 1e9 /
 * sample_rate and period cpu:nanoseconds of that (a value that overflows
 * is PYRO_EINVAL); with sample_rate 0, samples:count without a period.
 * The profile's time becomes time_ms.  out gets the names it chose
 * (constants).
 */
typedef struct PyroTextTyped
{
	const char *type;
	const char *unit;
	const char *period_type;	/* "" when none */
	const char *period_unit;
} PyroTextTyped;

extern PyroStatus pyro_text_profile_type(PyroProfile *prof, const PyroTextType *tt,
										 int64_t sample_rate, int64_t time_ms,
										 PyroTextTyped *out, PyroError *err);

/*
 * multipart/form-data (RFC 7578 on RFC 2046).  Part bodies point into the
 * request body; the strings are owned by the part array.  Free the array
 * with pyro_multipart_free.
 */
#define PYRO_MULTIPART_MAX_PARTS		64
#define PYRO_MULTIPART_MAX_HEADER_LINE	8192

typedef struct PyroMultipartPart
{
	char	   *name;			/* Content-Disposition name (never NULL) */
	char	   *filename;		/* Content-Disposition filename, or NULL */
	char	   *content_type;	/* Content-Type header, or NULL */
	const uint8_t *data;		/* points into the body */
	size_t		len;
} PyroMultipartPart;

extern PyroStatus pyro_multipart_parse(const uint8_t *body, size_t len,
									   const char *content_type_header,
									   PyroMultipartPart **parts, size_t *nparts,
									   PyroError *err);
extern void pyro_multipart_free(PyroMultipartPart *parts, size_t nparts);

/* the first part of that name, or NULL */
extern const PyroMultipartPart *pyro_multipart_find(const PyroMultipartPart *parts,
													size_t nparts, const char *name);

/*
 * Folded stacks (spec §10.3): per line "root;frame;...;leaf <value>",
 * split at the LAST space (frame names may contain spaces).  Blank lines
 * and lines without a space are skipped; a value that is not a
 * non-negative integer is an error naming the line.  With lines_format
 * (format=lines) the whole line is the stack and counts 1.  Trailing CR
 * is ignored.  The callback gets the frames root first (pointing into
 * text, valid during the call) and may stop the parse by returning an
 * error status.  Lines with value 0 are passed on too.
 */
typedef PyroStatus (*PyroFoldedCallback) (void *arg, const PyroStr *frames,
										  size_t nframes, int64_t value,
										  PyroError *err);

extern PyroStatus pyro_folded_parse(const char *text, size_t len, bool lines_format,
									PyroFoldedCallback cb, void *arg, PyroError *err);

/*
 * Folded text as a PyroProfile, stored exactly like pprof input: one
 * function per distinct frame name, one location (no mapping, address 0)
 * with one line per function, stack nodes root to leaf, one sample per
 * line with a non-zero value.  The profile metadata (sample type, period,
 * time) is left unset for the caller, which knows the suffix and
 * sampleRate (spec §10.7).
 */
extern PyroStatus pyro_folded_to_profile(const char *text, size_t len,
										 PyroProfile **out, PyroError *err);

/* the same for format=lines (every line one stack counting 1) */
extern PyroStatus pyro_lines_to_profile(const char *text, size_t len,
										PyroProfile **out, PyroError *err);

#endif							/* PYRO_INGEST_PARAMS_H */
