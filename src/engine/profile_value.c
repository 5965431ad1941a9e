/*-------------------------------------------------------------------------
 *
 * profile_value.c
 *	  Stored profile values (type pyroscope.profile): the core's profile
 *	  encoding in a varlena, made from an encoding, checked when it comes
 *	  from outside, and decoded (corrupt bytes are a data-corruption error).
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "utils/memutils.h"

/* Copy encoded bytes into a new profile value. */
ProfileValue *
profile_value_from_buf(const PyroBuf *buf)
{
	ProfileValue *v;

	if (buf->oom)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while encoding a profile")));
	if (buf->len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("encoded profile of %zu bytes is too large", buf->len)));
	v = (ProfileValue *) palloc(VARHDRSZ + buf->len);
	SET_VARSIZE(v, VARHDRSZ + buf->len);
	memcpy(VARDATA(v), buf->data, buf->len);
	return v;
}

/* Decode a stored profile value; corrupt bytes are a data-corruption error. */
PyroProfile *
profile_value_decode(ProfileValue *v)
{
	PyroProfile *p;
	PyroError	err;

	if (pyro_profile_decode((const uint8_t *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v),
							&p, &err) != PYRO_OK)
		pyroscope_report(&err, "could not decode profile value");
	return p;
}

/* Validate raw bytes as a profile value and wrap them. */
ProfileValue *
profile_value_from_bytes(const char *data, size_t len)
{
	PyroProfile *p;
	PyroError	err;
	ProfileValue *v;

	if (pyro_profile_decode((const uint8_t *) data, len, &p, &err) != PYRO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid profile value: %s", err.msg)));
	pyro_profile_free(p);
	v = (ProfileValue *) palloc(VARHDRSZ + len);
	SET_VARSIZE(v, VARHDRSZ + len);
	memcpy(VARDATA(v), data, len);
	return v;
}
