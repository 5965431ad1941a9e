/*-------------------------------------------------------------------------
 *
 * pbwire.h
 *	  A protobuf wire-format reader (header-only, inline: it is the hot
 *	  loop of every hand-written decoder): varints and the fields of a
 *	  message, one at a time, with the bounds checks and the corner cases
 *	  of protobuf-c, which the hand-written decoders are tested against.
 *	  It never allocates and never reads past end.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_PBWIRE_H
#define PYRO_PBWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One field: its number, wire type, value bytes and decoded value. */
typedef struct PyroPbField
{
	uint32_t	field;
	int			wt;
	const uint8_t *raw;			/* value bytes, with the length prefix */
	const uint8_t *data;		/* payload of a length-delimited value */
	size_t		len;
	uint64_t	v;				/* value of a varint */
} PyroPbField;

/* Read a varint of at most 10 bytes (bits past 64 dropped); NULL if bad. */
static inline const uint8_t *
pyro_pb_varint(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
	uint64_t	v = 0;

	if (p < end && *p < 0x80)
	{
		*out = *p;
		return p + 1;
	}
	for (int i = 0; i < 10; i++)
	{
		uint8_t		b;

		if (p >= end)
			return NULL;
		b = *p++;
		v |= (uint64_t) (b & 0x7F) << (7 * i);
		if ((b & 0x80) == 0)
		{
			*out = v;
			return p;
		}
	}
	return NULL;
}

/*
 * Read the next field of a message into *f; NULL when the bytes are
 * malformed.  Values of wire types 1 and 5 are only skipped.
 */
static inline const uint8_t *
pyro_pb_next(const uint8_t *p, const uint8_t *end, PyroPbField *f)
{
	uint32_t	tag;
	uint8_t		b = *p;

	/* the tag: protobuf-c rejects a first byte with no field bits */
	if ((b & 0xF8) == 0)
		return NULL;
	f->wt = b & 7;
	if (b < 0x80)
	{
		tag = b >> 3;
		p++;
	}
	else
	{
		int			i;
		int			shift = 4;

		tag = (b & 0x7F) >> 3;
		for (i = 1; i < 5; i++)
		{
			if (p + i >= end)
				return NULL;
			tag |= (uint32_t) (p[i] & 0x7F) << shift;
			shift += 7;
			if ((p[i] & 0x80) == 0)
				break;
		}
		if (i == 5)
			return NULL;
		p += i + 1;
	}
	f->field = tag;
	f->raw = p;
	switch (f->wt)
	{
		case 0:
			return pyro_pb_varint(p, end, &f->v);
		case 1:
			if (end - p < 8)
				return NULL;
			return p + 8;
		case 5:
			if (end - p < 4)
				return NULL;
			return p + 4;
		case 2:
			{
				size_t		val = 0;
				int			i;

				for (i = 0; i < 5; i++)
				{
					if (p + i >= end)
						return NULL;
					val |= (size_t) (p[i] & 0x7F) << (7 * i);
					if ((p[i] & 0x80) == 0)
						break;
				}
				if (i == 5)
					return NULL;
				p += i + 1;
				if (val > (size_t) (end - p))
					return NULL;
				f->data = p;
				f->len = val;
				return p + val;
			}
		default:
			return NULL;
	}
}

/* A bool as protobuf-c decodes it: any value byte with a non-zero low 7 bits. */
static inline bool
pyro_pb_bool(const PyroPbField *f, const uint8_t *next)
{
	for (const uint8_t *q = f->raw; q < next; q++)
		if (*q & 0x7F)
			return true;
	return false;
}

#endif							/* PYRO_PBWIRE_H */
