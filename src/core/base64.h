/*-------------------------------------------------------------------------
 *
 * base64.h
 *	  Base64 (RFC 4648), for the bytes fields of protobuf's JSON mapping.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_BASE64_H
#define PYRO_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* standard padded base64 of data, appended to out (no quotes) */
extern void pyro_base64_append(PyroBuf *out, const uint8_t *data, size_t len);

/*
 * Decode standard or URL-safe base64, padded or not, into a new buffer
 * (pyro_malloc'd, NULL when *outlen is 0).  Returns false on bad input or
 * allocation failure (*oom says which).
 */
extern bool pyro_base64_decode(const char *s, size_t len, uint8_t **out,
							   size_t *outlen, bool *oom);

#endif							/* PYRO_BASE64_H */
