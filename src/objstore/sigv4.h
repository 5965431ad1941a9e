/*-------------------------------------------------------------------------
 *
 * sigv4.h
 *	  AWS Signature Version 4 for S3 requests (header-based, single chunk),
 *	  computed with OpenSSL's SHA-256 and HMAC.  Plain C without postgres.h,
 *	  so that it is unit-tested against AWS's published examples
 *	  (test/objstore/test_sigv4.c) and never throws inside a transfer.
 *
 * The caller supplies the canonical pieces: the URI path already encoded
 * (sigv4_uri_encode), the query string already canonical (parameters
 * sorted by name, names and values encoded, "name=" for empty values),
 * and the headers to sign.  The signer lower-cases and sorts the header
 * names and trims their values.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_SIGV4_H
#define PYRO_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGV4_HEX_LEN 64		/* hex digits of a SHA-256 */
#define SIGV4_MAX_HEADERS 16

/* SHA-256 of the empty string, the payload hash of bodiless requests */
#define SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct SigV4Header
{
	const char *name;			/* any case; signed lower-cased */
	const char *value;
} SigV4Header;

typedef struct SigV4Request
{
	const char *method;			/* "GET", "PUT", ... */
	const char *path;			/* encoded absolute path, e.g.
								 * "/bucket/a/b.pyb" */
	const char *query;			/* canonical query string, "" if none */
	const SigV4Header *headers; /* must include host and x-amz-date */
	int			nheaders;
	const char *payload_hash;	/* hex SHA-256 of the body (or
								 * UNSIGNED-PAYLOAD) */
	const char *amz_date;		/* "YYYYMMDDTHHMMSSZ" */
	const char *region;
	const char *service;		/* "s3" */
	const char *access_key;
	const char *secret_key;
} SigV4Request;

/* hex SHA-256 of data into out (SIGV4_HEX_LEN + 1 bytes) */
extern void sigv4_sha256_hex(const void *data, size_t len, char *out);

/* raw SHA-256 of data into out (32 bytes) */

/*
 * Percent-encode s as SigV4 wants it (unreserved A-Za-z0-9-._~ kept, every
 * other byte %XX upper-case), keeping '/' when keep_slash.  Returns the
 * length written, or -1 if out (cap bytes with the terminator) is too small.
 */
extern int	sigv4_uri_encode(const char *s, bool keep_slash, char *out, size_t cap);

/*
 * The Authorization header value of a request, into out (cap bytes).  If
 * signature is not NULL, the bare signature is also copied there
 * (SIGV4_HEX_LEN + 1 bytes).  Returns false if an input is missing, there
 * are too many headers, out is too small or memory runs out.
 */
extern bool sigv4_authorization(const SigV4Request *req, char *out, size_t cap,
								char *signature);

#endif							/* PYRO_SIGV4_H */
