/*-------------------------------------------------------------------------
 *
 * speedscope.h
 *	  speedscope JSON documents (what old Pyroscope agents send with
 *	  format=speedscope, spec API-2 §4) turned into profiles: one per
 *	  profile of the document after upstream's merge of equal profiles,
 *	  evented and sampled, values in nanoseconds for the time units.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_SPEEDSCOPE_H
#define PYRO_SPEEDSCOPE_H

#include "profile.h"

typedef struct PyroSpeedscopeProfile
{
	char	   *name;			/* the profile's name ("" when none) */
	char	   *unit;			/* none, nanoseconds, microseconds,
								 * milliseconds, seconds or bytes */
	PyroProfile *prof;			/* owns its symbols; sample type unset */
} PyroSpeedscopeProfile;

typedef struct PyroSpeedscope
{
	PyroSpeedscopeProfile *profiles;	/* by startValue */
	size_t		nprofiles;
} PyroSpeedscope;

/*
 * Parse a speedscope document.  Values: time units in nanoseconds
 * (rounded), "none" units times none_ns (a sample's worth, e.g. 1e7 at
 * 100 Hz; 0 keeps counts), bytes as they are.  Equal profiles (name, type,
 * unit, startValue) are merged as upstream merges them.  Bad documents are
 * PYRO_EINVAL with a message (PYRO_ELIMIT when nested too deeply).
 */
extern PyroStatus pyro_speedscope_parse(const char *json, size_t len, int64_t none_ns,
										PyroSpeedscope **out, PyroError *err);
extern void pyro_speedscope_free(PyroSpeedscope *s);

#endif							/* PYRO_SPEEDSCOPE_H */
