/*-------------------------------------------------------------------------
 *
 * pyroscope.h
 *	  Declarations shared by the SQL layer of the pyroscope extension: the
 *	  GUCs, the bridge between the pure-C core and PostgreSQL (allocator,
 *	  error reporting), and the query engine used by SQL functions (and,
 *	  later, by the HTTP workers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYROSCOPE_H
#define PYROSCOPE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"

#include "common.h"
#include "profile.h"
#include "tree.h"

/* GUCs (pyroscope.c) */
extern int	pyroscope_max_profile_size;		/* bytes, decompressed */
extern int	pyroscope_max_profile_samples;
extern int	pyroscope_max_label_names;
extern int	pyroscope_max_label_name_length;
extern int	pyroscope_max_label_value_length;

/* core bridge (pyroscope.c) */
extern void pyroscope_install_allocator(void);
extern void pyroscope_report(const PyroError *err, const char *context) pg_attribute_noreturn();

/* stored profile values (profile_type.c) */
typedef struct varlena ProfileValue;
#define DatumGetProfileValueP(X)	((ProfileValue *) PG_DETOAST_DATUM(X))
#define PG_GETARG_PROFILE_P(n)		DatumGetProfileValueP(PG_GETARG_DATUM(n))
extern ProfileValue *profile_value_from_buf(const PyroBuf *buf);
extern PyroProfile *profile_value_decode(ProfileValue *v);

/* ingest (ingest.c) */
struct PyroNormalized;
struct PyroLabelSet;
extern int	pyroscope_store_normalized(const struct PyroNormalized *n,
									   const struct PyroLabelSet *client,
									   const char *tenant);

/* query engine (query.c) */

/*
 * A selection: a tenant's profiles of one profile type whose series match
 * a label selector, in a closed time range.
 */
typedef struct ProfileSelection
{
	const char *tenant;
	const char *profile_type;	/* NULL = any (only for series listing) */
	const char *selector;
	TimestampTz start;
	TimestampTz end;
} ProfileSelection;

/* called once per stored profile (decoded) of a selection */
typedef void (*ProfileVisitor) (PyroProfile *p, void *arg);

extern void pyroscope_check_profile_type(const char *tenant, const char *profile_type);
extern uint64 pyroscope_scan_profiles(const ProfileSelection *sel,
									  ProfileVisitor visit, void *arg);
extern PyroTree *pyroscope_selection_tree(const ProfileSelection *sel);
extern void pyroscope_check_time_range(TimestampTz start, TimestampTz end);

/* results built from trees and profiles (query.c) */
extern Datum pyroscope_tree_flamegraph(const PyroTree *t, int32 max_nodes);
extern void pyroscope_return_top(FunctionCallInfo fcinfo, const PyroTree *t);
extern void pyroscope_return_stacks(FunctionCallInfo fcinfo, const PyroTree *t);
extern bytea *pyroscope_profile_pprof(const PyroProfile *p, const char *profile_type,
									  int64 time_nanos);
extern Datum pyroscope_json_to_jsonb(const PyroBuf *json);

#endif							/* PYROSCOPE_H */
