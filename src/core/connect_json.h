/*-------------------------------------------------------------------------
 *
 * connect_json.h
 *	  A generic converter between protobuf-JSON (as Connect's
 *	  application/json codec uses it, spec §3) and protobuf-c messages,
 *	  driven by protobuf-c's descriptors so that it serves every message of
 *	  the proto files without per-message code.
 *
 * Parsing accepts both the json_name and the proto field name of every key,
 * ignores unknown keys, accepts 64-bit integers as numbers or strings,
 * enums by name or number, bytes in standard or URL-safe base64 (padded or
 * not), and treats null as "unset".  A key given twice keeps the last
 * value.  The input is fully validated JSON (RFC 8259, UTF-8) with a hard
 * nesting limit; parsing is linear in the input size.
 *
 * Output follows Go protojson's defaults: json_name keys in field-number
 * order, default values omitted (proto3), 64-bit integers as strings, enums
 * as names, bytes as padded standard base64, oneof members (our proto3
 * "optional" scalars) present iff set.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_CONNECT_JSON_H
#define PYRO_CONNECT_JSON_H

#include <protobuf-c/protobuf-c.h>

#include "base64.h"
#include "common.h"

/* nesting limit of objects and arrays, counted from the top-level object */
#define PYRO_JSON_MAX_DEPTH		64
/* largest JSON document accepted */
#define PYRO_JSON_MAX_INPUT		((size_t) 64 * 1024 * 1024)

/*
 * Parse json[0..len) into a newly allocated message of type d.  On success
 * *out is the message; free it with
 * protobuf_c_message_free_unpacked(*out, pyro_protobuf_allocator()).  On
 * failure *out is NULL and err says why (PYRO_EINVAL for bad input,
 * PYRO_ELIMIT for input over a limit, PYRO_ENOMEM).  A zero-length or
 * all-blank body is taken as the empty message {}.
 */
extern PyroStatus pyro_json_to_message(const ProtobufCMessageDescriptor *d,
									   const char *json, size_t len,
									   ProtobufCMessage **out, PyroError *err);

/*
 * Append m as protobuf-JSON to out.  Returns PYRO_OK, PYRO_ENOMEM when the
 * buffer could not grow, or PYRO_ELIMIT when messages nest deeper than
 * PYRO_JSON_MAX_DEPTH.
 */
extern PyroStatus pyro_message_to_json(const ProtobufCMessage *m, PyroBuf *out);

/*
 * Check every string field of the binary message data (of type d, nested
 * messages included) for what protobuf-c lets through: a NUL byte (which
 * would cut the C string short) and invalid UTF-8 (proto3 strings must be
 * valid).  PYRO_EINVAL names the field; bytes that are not a well-formed
 * message pass, for the decoder to refuse.
 */
extern PyroStatus pyro_message_check_strings(const ProtobufCMessageDescriptor *d,
											 const uint8_t *data, size_t len, PyroError *err);

#endif							/* PYRO_CONNECT_JSON_H */
