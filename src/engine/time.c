/*-------------------------------------------------------------------------
 *
 * time.c
 *	  The one conversion between Unix epoch milliseconds (the core's and
 *	  the wire's times) and timestamptz (the tables'), for every part of
 *	  the engine and its front doors.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "datatype/timestamp.h"

#define UNIX_EPOCH_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* Unix ms to timestamptz, clamped far outside PostgreSQL's range. */
TimestampTz
pyroscope_ms_to_timestamptz(int64 ms)
{
	if (ms > INT64CONST(9000000000000000) / 1000)
		ms = INT64CONST(9000000000000000) / 1000;
	if (ms < -INT64CONST(200000000000000) / 1000)
		ms = -INT64CONST(200000000000000) / 1000;
	return (TimestampTz) (ms * 1000 - UNIX_EPOCH_USECS);
}

/*
 * Unix ms to timestamptz without clamping; false when ms is beyond what a
 * timestamptz can hold (about 285,000 years either side).
 */
bool
pyroscope_ms_to_timestamptz_exact(int64 ms, TimestampTz *out)
{
	if (ms > INT64CONST(9000000000000000) || ms < -INT64CONST(9000000000000000))
		return false;
	*out = (TimestampTz) (ms * 1000 - UNIX_EPOCH_USECS);
	return true;
}

/* A time read from a block as timestamptz; one no timestamptz can hold is corrupt. */
TimestampTz
pyroscope_block_time(int64 ms)
{
	TimestampTz ts;

	if (!pyroscope_ms_to_timestamptz_exact(ms, &ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("block time " INT64_FORMAT " ms is out of range", ms)));
	return ts;
}

/* ts to Unix ms, rounded down or up; infinities to the int64 extremes */
static int64
to_ms(TimestampTz ts, bool round_up)
{
	int64		us;

	if (TIMESTAMP_IS_NOBEGIN(ts))
		return PG_INT64_MIN;
	if (TIMESTAMP_IS_NOEND(ts))
		return PG_INT64_MAX;
	us = (int64) ts + UNIX_EPOCH_USECS;
	if (round_up)
		return us >= 0 ? (us + 999) / 1000 : -((-us) / 1000);
	return us >= 0 ? us / 1000 : -((-us + 999) / 1000);
}

/*
 * timestamptz to Unix ms, rounded down (also before 1970); -infinity and
 * infinity become the smallest and largest int64.
 */
int64
pyroscope_timestamptz_to_ms(TimestampTz ts)
{
	return to_ms(ts, false);
}

/* The same rounded up: the first millisecond at or after ts. */
int64
pyroscope_timestamptz_to_ms_ceil(TimestampTz ts)
{
	return to_ms(ts, true);
}
