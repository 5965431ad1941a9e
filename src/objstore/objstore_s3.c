/*-------------------------------------------------------------------------
 *
 * objstore_s3.c
 *	  The S3 backend of the object store, on libcurl: SigV4-signed requests
 *	  (sigv4.c) in path style or virtual-host style, ranged GETs, HEAD,
 *	  ListObjectsV2, DELETE, and multipart upload above
 *	  pyroscope.s3_multipart_threshold; bounded retries with exponential
 *	  backoff on 5xx, 429 and transport timeouts; response size caps.
 *
 * libcurl inside a backend (../shared/ENVIRONMENT.md): the process has one
 * easy handle, created lazily on first use (never in the postmaster) and
 * released only by s3_cleanup at process exit; each request resets it and
 * frees its own header list and response buffer on its single exit path.
 * CURLOPT_NOSIGNAL is set and host names are resolved here and handed to
 * curl with CURLOPT_RESOLVE, so curl starts no resolver thread.  Timeouts
 * come from the GUCs, capped by the time left before statement_timeout,
 * and a progress callback aborts the transfer as soon as an interrupt is
 * pending.  Callbacks only copy bytes and set flags: nothing here calls
 * palloc or ereport while curl is on the stack.
 *
 *-------------------------------------------------------------------------
 */
#include "objstore.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <time.h>

#include <curl/curl.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/timeout.h"

#include "sigv4.h"

#define S3_MAX_RESPONSE (16 * 1024 * 1024)	/* cap of XML/error bodies */
#define S3_MAX_PARTS 10000

static CURL *s3_curl = NULL;
static bool s3_global_done = false;

/* the one owner of the process's curl state */
static void
s3_cleanup(int code, Datum arg)
{
	if (s3_curl)
		curl_easy_cleanup(s3_curl);
	s3_curl = NULL;
	if (s3_global_done)
		curl_global_cleanup();
	s3_global_done = false;
}

static CURL *
s3_handle(ObjStoreError *e)
{
	if (s3_curl)
		return s3_curl;
	if (!IsUnderPostmaster && IsPostmasterEnvironment)
	{
		objstore_error(e, OBJ_ERROR, "the S3 client is not available in the postmaster");
		return NULL;
	}
	if (!s3_global_done)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		{
			objstore_error(e, OBJ_ERROR, "could not initialise libcurl");
			return NULL;
		}
		s3_global_done = true;
		on_proc_exit(s3_cleanup, (Datum) 0);
	}
	s3_curl = curl_easy_init();
	if (s3_curl == NULL)
		objstore_error(e, OBJ_ERROR, "could not create a libcurl handle");
	return s3_curl;
}

/* A growable malloc'd buffer with a cap; owned by one S3Request. */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;
	bool		overflow;
} Buf;

static bool
buf_append(Buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->limit)
	{
		b->overflow = true;
		return false;
	}
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 4096;
		char	   *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL)
		{
			b->overflow = true;
			return false;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

/* One logical request (retried as a whole). */
typedef struct S3Request
{
	const char *method;
	const char *key;			/* NULL: the bucket itself */
	const char *query;			/* canonical query string */
	const uint8 *body;			/* PUT/POST body */
	size_t		body_len;
	size_t		body_sent;
	bool		pause_midway;	/* test hook: pause half-way through the body */
	bool		paused;
	uint64		range_off;
	uint64		range_len;		/* 0 = no Range header */
	uint8	   *out;			/* ranged GET target, exactly range_len bytes */
	uint64		out_len;
	bool		out_overflow;
	Buf			resp;			/* any other response body */
	long		status;
	char		etag[128];
	uint64		content_length;
	bool		have_length;
	bool		aborted_by_test;
} S3Request;

static void
s3_request_free(S3Request *r)
{
	free(r->resp.data);
	r->resp.data = NULL;
	r->resp.len = r->resp.cap = 0;
}

/* body bytes: 2xx bodies of ranged GETs into r->out, the rest into r->resp */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	S3Request  *r = (S3Request *) userdata;
	size_t		n = size * nmemb;
	long		code = 0;

	curl_easy_getinfo(s3_curl, CURLINFO_RESPONSE_CODE, &code);
	if (r->out && code >= 200 && code < 300)
	{
		if (r->out_len + n > r->range_len)
		{
			r->out_overflow = true;
			return 0;			/* abort: more than asked for */
		}
		memcpy(r->out + r->out_len, ptr, n);
		r->out_len += n;
		return n;
	}
	return buf_append(&r->resp, ptr, n) ? n : 0;
}

/* request body, with the test pause half-way through */
static size_t
read_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	S3Request  *r = (S3Request *) userdata;
	size_t		n = Min(size * nitems, r->body_len - r->body_sent);

	if (r->pause_midway && !r->paused && r->body_sent >= r->body_len / 2)
	{
		r->paused = true;
		if (!objstore_test_pause("upload"))
		{
			r->aborted_by_test = true;
			return CURL_READFUNC_ABORT;
		}
	}
	if (r->pause_midway && !r->paused)
		n = Min(n, r->body_len / 2 - r->body_sent);
	memcpy(buffer, r->body + r->body_sent, n);
	r->body_sent += n;
	return n;
}

static size_t
header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	S3Request  *r = (S3Request *) userdata;
	size_t		n = size * nitems;

	if (n > 5 && pg_strncasecmp(buffer, "ETag:", 5) == 0)
	{
		size_t		i = 5,
					o = 0;

		while (i < n && (buffer[i] == ' ' || buffer[i] == '\t'))
			i++;
		while (i < n && buffer[i] != '\r' && buffer[i] != '\n' && o + 1 < sizeof(r->etag))
			r->etag[o++] = buffer[i++];
		r->etag[o] = '\0';
	}
	else if (n > 15 && pg_strncasecmp(buffer, "Content-Length:", 15) == 0)
	{
		char		tmp[32];
		size_t		len = Min(n - 15, sizeof(tmp) - 1);

		memcpy(tmp, buffer + 15, len);
		tmp[len] = '\0';

		r->content_length = strtoull(tmp, NULL, 10);
		r->have_length = true;
	}
	return n;
}

/* abort the transfer as soon as a cancel or termination is pending */
static int
progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	return objstore_stop_requested() ? 1 : 0;
}

/* ms left before statement_timeout fires, or -1 if none is armed */
static long
statement_ms_left(void)
{
	TimestampTz fin;
	TimestampTz now;

	if (!get_timeout_active(STATEMENT_TIMEOUT))
		return -1;
	fin = get_timeout_finish_time(STATEMENT_TIMEOUT);
	now = GetCurrentTimestamp();
	return fin > now ? (long) ((fin - now) / 1000) + 1 : 1;
}

/* the text of <tag>...</tag> after from, into out; false if absent */
static bool
xml_text(const char *from, const char *tag, char *out, size_t cap, const char **after)
{
	char		open[64],
				close[64];
	const char *s,
			   *t;
	size_t		n;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if (from == NULL || (s = strstr(from, open)) == NULL)
		return false;
	s += strlen(open);
	if ((t = strstr(s, close)) == NULL)
		return false;
	n = Min((size_t) (t - s), cap - 1);
	memcpy(out, s, n);
	out[n] = '\0';
	if (after)
		*after = t + strlen(close);
	return true;
}

static bool
is_ip_literal(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

/* one header to sign */
static void
set_header(SigV4Header *h, const char *name, const char *value)
{
	h->name = name;
	h->value = value;
}

/*
 * One attempt of a request.  Returns OBJ_OK for 2xx, OBJ_NOT_FOUND for
 * 404, else OBJ_ERROR / OBJ_INTERRUPTED; *retry says whether another
 * attempt may help (5xx, 429, timeouts, broken connections).
 */
static ObjStoreStatus
s3_attempt(const ObjStoreConfig *c, S3Request *r, bool *retry, ObjStoreError *e)
{
	CURL	   *h = s3_handle(e);
	struct curl_slist *hdrs = NULL;
	struct curl_slist *resolve = NULL;
	char		enc_key[1600];
	char		path[2000];
	char		url[2600];
	char		vhost[600];
	char		hosthdr[700];
	char		payload[SIGV4_HEX_LEN + 1];
	char		amz_date[20];
	char		auth[1024];
	char		range[80];
	char		errbuf[CURL_ERROR_SIZE];
	char		resolve_entry[700];
	SigV4Header sh[6];
	int			nsh = 0;
	SigV4Request sr;
	time_t		now = time(NULL);
	struct tm	tm;
	long		timeout_ms;
	long		left;
	CURLcode	rc;
	ObjStoreStatus status = OBJ_ERROR;
	const char *conn_host;
	bool		default_port;

	*retry = false;
	if (h == NULL)
		return OBJ_ERROR;
	if (pyroscope_s3_access_key == NULL || pyroscope_s3_access_key[0] == '\0' ||
		pyroscope_s3_secret_key == NULL || pyroscope_s3_secret_key[0] == '\0')
		return objstore_error(e, OBJ_ERROR,
							  "pyroscope.s3_access_key and pyroscope.s3_secret_key must be set");

	/* reset per-attempt state */
	r->body_sent = 0;
	r->out_len = 0;
	r->out_overflow = false;
	r->resp.len = 0;
	r->resp.overflow = false;
	r->resp.limit = S3_MAX_RESPONSE;
	r->etag[0] = '\0';
	r->have_length = false;
	r->content_length = 0;
	r->status = 0;

	/* key and path */
	enc_key[0] = '\0';
	if (r->key)
	{
		char		full[1100];

		snprintf(full, sizeof(full), "%s%s", c->prefix, r->key);
		if (sigv4_uri_encode(full, true, enc_key, sizeof(enc_key)) < 0)
			return objstore_error(e, OBJ_ERROR, "object key \"%s\" is too long", r->key);
	}
	default_port = (c->port == 80 && strcmp(c->scheme, "http") == 0) ||
		(c->port == 443 && strcmp(c->scheme, "https") == 0);
	if (c->virtual_host)
	{
		snprintf(vhost, sizeof(vhost), "%s.%s", c->bucket, c->host);
		conn_host = vhost;
		snprintf(path, sizeof(path), "/%s", enc_key);
	}
	else
	{
		conn_host = c->host;
		if (r->key)
			snprintf(path, sizeof(path), "/%s/%s", c->bucket, enc_key);
		else
			snprintf(path, sizeof(path), "/%s", c->bucket);
	}
	if (default_port)
		snprintf(hosthdr, sizeof(hosthdr), "%s", conn_host);
	else
		snprintf(hosthdr, sizeof(hosthdr), "%s:%d", conn_host, c->port);
	snprintf(url, sizeof(url), "%s://%s%s%s%s", c->scheme, hosthdr, path,
			 r->query[0] ? "?" : "", r->query);

	/* resolve here so curl needs no resolver thread */
	if (!is_ip_literal(c->host) || c->virtual_host)
	{
		struct addrinfo hints = {0};
		struct addrinfo *res = NULL;
		char		addr[INET6_ADDRSTRLEN + 2];

		if (is_ip_literal(c->host))
			strlcpy(addr, c->host, sizeof(addr));
		else
		{
			hints.ai_family = AF_UNSPEC;
			hints.ai_socktype = SOCK_STREAM;
			if (getaddrinfo(conn_host, NULL, &hints, &res) != 0 || res == NULL)
			{
				*retry = true;
				return objstore_error(e, OBJ_ERROR, "could not resolve host \"%s\"", conn_host);
			}
			if (res->ai_family == AF_INET6)
			{
				addr[0] = '[';
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *) res->ai_addr)->sin6_addr,
						  addr + 1, INET6_ADDRSTRLEN);
				strlcat(addr, "]", sizeof(addr));
			}
			else
				inet_ntop(AF_INET, &((struct sockaddr_in *) res->ai_addr)->sin_addr,
						  addr, sizeof(addr));
			freeaddrinfo(res);
		}
		snprintf(resolve_entry, sizeof(resolve_entry), "%s:%d:%s", conn_host, c->port, addr);
		resolve = curl_slist_append(NULL, resolve_entry);
		if (resolve == NULL)
			return objstore_error(e, OBJ_ERROR, "out of memory");
	}

	/* sign */
	gmtime_r(&now, &tm);
	strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
	sigv4_sha256_hex(r->body ? (const void *) r->body : "", r->body ? r->body_len : 0, payload);
	set_header(&sh[nsh++], "host", hosthdr);
	set_header(&sh[nsh++], "x-amz-content-sha256", payload);
	set_header(&sh[nsh++], "x-amz-date", amz_date);
	if (r->range_len > 0)
	{
		snprintf(range, sizeof(range), "bytes=" UINT64_FORMAT "-" UINT64_FORMAT,
				 r->range_off, r->range_off + r->range_len - 1);
		set_header(&sh[nsh++], "range", range);
	}
	memset(&sr, 0, sizeof(sr));
	sr.method = r->method;
	sr.path = path;
	sr.query = r->query;
	sr.headers = sh;
	sr.nheaders = nsh;
	sr.payload_hash = payload;
	sr.amz_date = amz_date;
	sr.region = pyroscope_s3_region;
	sr.service = "s3";
	sr.access_key = pyroscope_s3_access_key;
	sr.secret_key = pyroscope_s3_secret_key;
	if (!sigv4_authorization(&sr, auth, sizeof(auth), NULL))
	{
		curl_slist_free_all(resolve);
		return objstore_error(e, OBJ_ERROR, "could not sign the request");
	}

	/* headers; a NULL from curl_slist_append means out of memory */
	{
		const char *lines[8];
		int			nl = 0;
		char		l_host[800],
					l_sha[100],
					l_date[40],
					l_auth[1100],
					l_range[100];
		struct curl_slist *t;

		snprintf(l_host, sizeof(l_host), "Host: %s", hosthdr);
		snprintf(l_sha, sizeof(l_sha), "x-amz-content-sha256: %s", payload);
		snprintf(l_date, sizeof(l_date), "x-amz-date: %s", amz_date);
		snprintf(l_auth, sizeof(l_auth), "Authorization: %s", auth);
		lines[nl++] = l_host;
		lines[nl++] = l_sha;
		lines[nl++] = l_date;
		lines[nl++] = l_auth;
		lines[nl++] = "Expect:";
		lines[nl++] = "Content-Type:";
		if (r->range_len > 0)
		{
			snprintf(l_range, sizeof(l_range), "Range: %s", range);
			lines[nl++] = l_range;
		}
		for (int i = 0; i < nl; i++)
		{
			t = curl_slist_append(hdrs, lines[i]);
			if (t == NULL)
			{
				objstore_error(e, OBJ_ERROR, "out of memory");
				goto done;
			}
			hdrs = t;
		}
	}

	timeout_ms = pyroscope_objstore_timeout;
	left = statement_ms_left();
	if (left > 0 && left < timeout_ms)
		timeout_ms = left;

	curl_easy_reset(h);
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (resolve)
		curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
					 (long) Min(pyroscope_objstore_connect_timeout, timeout_ms));
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(r->method, "PUT") == 0)
	{
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) r->body_len);
	}
	else if (strcmp(r->method, "POST") == 0)
	{
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *) r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (r->body ? r->body_len : 0));
	}
	else if (strcmp(r->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);

	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);

	if (rc != CURLE_OK)
	{
		if (objstore_stop_requested() || r->aborted_by_test ||
			(rc == CURLE_ABORTED_BY_CALLBACK && !r->out_overflow))
			objstore_error(e, OBJ_INTERRUPTED, "request interrupted");
		else if (r->out_overflow || r->resp.overflow)
			objstore_error(e, OBJ_ERROR, "%s %s: response larger than expected", r->method,
						   r->key ? r->key : c->bucket);
		else
		{
			*retry = rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT ||
				rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
				rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE;
			objstore_error(e, OBJ_ERROR, "%s %s://%s: %s", r->method, c->scheme, hosthdr,
						   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		}
		goto done;
	}
	if (r->status >= 200 && r->status < 300)
	{
		/* CompleteMultipartUpload may answer 200 with an error body */
		if (r->resp.data && strstr(r->resp.data, "<Error>") != NULL)
		{
			char		code[128] = "",
						msg[200] = "";

			xml_text(r->resp.data, "Code", code, sizeof(code), NULL);
			xml_text(r->resp.data, "Message", msg, sizeof(msg), NULL);
			*retry = strcmp(code, "InternalError") == 0 || strcmp(code, "SlowDown") == 0;
			objstore_error(e, OBJ_ERROR, "%s %s: %s: %s", r->method,
						   r->key ? r->key : c->bucket, code, msg);
			goto done;
		}
		status = OBJ_OK;
		e->status = OBJ_OK;
		goto done;
	}
	if (r->status == 404 && strcmp(r->method, "DELETE") != 0)
	{
		char		code[128] = "NoSuchKey";

		if (r->resp.data)
			xml_text(r->resp.data, "Code", code, sizeof(code), NULL);
		objstore_error(e, strcmp(code, "NoSuchBucket") == 0 ? OBJ_ERROR : OBJ_NOT_FOUND,
					   "%s %s: HTTP 404 %s", r->method, r->key ? r->key : c->bucket, code);
		status = e->status;
		goto done;
	}
	if (r->status == 404)
	{
		/* deleting an absent object is fine */
		status = OBJ_OK;
		e->status = OBJ_OK;
		goto done;
	}
	{
		char		code[128] = "",
					msg[200] = "";

		if (r->resp.data)
		{
			xml_text(r->resp.data, "Code", code, sizeof(code), NULL);
			xml_text(r->resp.data, "Message", msg, sizeof(msg), NULL);
		}
		*retry = r->status >= 500 || r->status == 429;
		objstore_error(e, OBJ_ERROR, "%s %s: HTTP %ld%s%s%s%s", r->method,
					   r->key ? r->key : c->bucket, r->status,
					   code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
	}

done:
	curl_slist_free_all(hdrs);
	curl_slist_free_all(resolve);
	/* drop our pointers into this function's stack from the handle */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_RESOLVE, NULL);
	return status == OBJ_OK ? OBJ_OK : e->status;
}

/* A request with bounded retries and exponential backoff (100 ms, 200 ms, ...). */
static ObjStoreStatus
s3_perform(const ObjStoreConfig *c, S3Request *r, ObjStoreError *e)
{
	ObjStoreStatus s = OBJ_ERROR;

	for (int attempt = 0;; attempt++)
	{
		bool		retry;

		s = s3_attempt(c, r, &retry, e);
		if (s != OBJ_ERROR || !retry || attempt >= pyroscope_objstore_retries)
			break;
		elog(DEBUG1, "pyroscope: retrying S3 request after: %s", e->msg);
		if (!objstore_sleep(Min(100L << attempt, 5000L)))
			return objstore_error(e, OBJ_INTERRUPTED, "request interrupted");
	}
	return s;
}

ObjStoreStatus
objstore_s3_get(const ObjStoreConfig *c, const char *key, uint64 offset, uint64 len,
				uint8 *buf, ObjStoreError *e)
{
	S3Request	r = {0};
	ObjStoreStatus s;

	if (len == 0)
		return OBJ_OK;
	r.method = "GET";
	r.key = key;
	r.query = "";
	r.range_off = offset;
	r.range_len = len;
	r.out = buf;
	s = s3_perform(c, &r, e);
	if (s == OBJ_OK && r.out_len != len)
		s = objstore_error(e, OBJ_ERROR, "GET %s: got " UINT64_FORMAT " of " UINT64_FORMAT
						   " bytes at " UINT64_FORMAT, key, r.out_len, len, offset);
	s3_request_free(&r);
	if (s == OBJ_OK)
	{
		objstore_count(OBJC_DOWNLOADS, 1);
		objstore_count(OBJC_DOWNLOAD_BYTES, len);
	}
	return s;
}

ObjStoreStatus
objstore_s3_head(const ObjStoreConfig *c, const char *key, uint64 *size, ObjStoreError *e)
{
	S3Request	r = {0};
	ObjStoreStatus s;

	r.method = "HEAD";
	r.key = key;
	r.query = "";
	s = s3_perform(c, &r, e);
	if (s == OBJ_OK && !r.have_length)
		s = objstore_error(e, OBJ_ERROR, "HEAD %s: no Content-Length", key);
	*size = r.content_length;
	s3_request_free(&r);
	return s;
}

ObjStoreStatus
objstore_s3_delete(const ObjStoreConfig *c, const char *key, ObjStoreError *e)
{
	S3Request	r = {0};
	ObjStoreStatus s;

	r.method = "DELETE";
	r.key = key;
	r.query = "";
	s = s3_perform(c, &r, e);
	s3_request_free(&r);
	if (s == OBJ_OK)
		objstore_count(OBJC_DELETES, 1);
	return s;
}

/* Multipart upload: initiate, upload parts, complete (or abort on failure). */
static ObjStoreStatus
s3_put_multipart(const ObjStoreConfig *c, const char *key, const uint8 *data, size_t len,
				 ObjStoreError *e)
{
	S3Request	r = {0};
	ObjStoreStatus s;
	char		upload_id[512];
	char		enc_id[1600];
	char		query[1800];
	size_t		part = (size_t) pyroscope_s3_part_size * 1024;
	size_t		nparts = (len + part - 1) / part;
	Buf			xml = {0};
	char		tmp[300];

	if (nparts > S3_MAX_PARTS)
		return objstore_error(e, OBJ_ERROR, "object of %zu bytes needs more than %d parts", len,
							  S3_MAX_PARTS);
	r.method = "POST";
	r.key = key;
	r.query = "uploads=";
	s = s3_perform(c, &r, e);
	if (s == OBJ_OK && !xml_text(r.resp.data, "UploadId", upload_id, sizeof(upload_id), NULL))
		s = objstore_error(e, OBJ_ERROR, "POST %s?uploads: no UploadId in the answer", key);
	s3_request_free(&r);
	if (s != OBJ_OK)
		return s;
	if (sigv4_uri_encode(upload_id, false, enc_id, sizeof(enc_id)) < 0)
		return objstore_error(e, OBJ_ERROR, "upload id too long");

	xml.limit = S3_MAX_RESPONSE;
	buf_append(&xml, "<CompleteMultipartUpload>", 25);
	for (size_t i = 0; i < nparts && s == OBJ_OK; i++)
	{
		S3Request	p = {0};
		size_t		off = i * part;

		snprintf(query, sizeof(query), "partNumber=%zu&uploadId=%s", i + 1, enc_id);
		p.method = "PUT";
		p.key = key;
		p.query = query;
		p.body = data + off;
		p.body_len = Min(part, len - off);
		p.pause_midway = i == 0;
		s = s3_perform(c, &p, e);
		if (s == OBJ_OK && p.etag[0] == '\0')
			s = objstore_error(e, OBJ_ERROR, "PUT %s part %zu: no ETag in the answer", key, i + 1);
		if (s == OBJ_OK)
		{
			snprintf(tmp, sizeof(tmp), "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
					 i + 1, p.etag);
			if (!buf_append(&xml, tmp, strlen(tmp)))
				s = objstore_error(e, OBJ_ERROR, "out of memory");
		}
		s3_request_free(&p);
	}
	if (s == OBJ_OK && !buf_append(&xml, "</CompleteMultipartUpload>", 26))
		s = objstore_error(e, OBJ_ERROR, "out of memory");
	if (s == OBJ_OK)
	{
		snprintf(query, sizeof(query), "uploadId=%s", enc_id);
		memset(&r, 0, sizeof(r));
		r.method = "POST";
		r.key = key;
		r.query = query;
		r.body = (const uint8 *) xml.data;
		r.body_len = xml.len;
		s = s3_perform(c, &r, e);
		s3_request_free(&r);
	}
	free(xml.data);
	if (s != OBJ_OK)
	{
		/*
		 * abort the upload so its parts do not linger; its own outcome does
		 * not matter
		 */
		ObjStoreError ignore;
		S3Request	a = {0};
		ObjStoreStatus keep = s;
		bool		unused = false;

		snprintf(query, sizeof(query), "uploadId=%s", enc_id);
		a.method = "DELETE";
		a.key = key;
		a.query = query;
		if (!objstore_stop_requested())
			(void) s3_attempt(c, &a, &unused, &ignore);
		s3_request_free(&a);
		return keep;
	}
	return OBJ_OK;
}

ObjStoreStatus
objstore_s3_put(const ObjStoreConfig *c, const char *key, const uint8 *data, size_t len,
				ObjStoreError *e)
{
	S3Request	r = {0};
	ObjStoreStatus s;

	if (len >= (size_t) pyroscope_s3_multipart_threshold * 1024 &&
		len > (size_t) pyroscope_s3_part_size * 1024)
		s = s3_put_multipart(c, key, data, len, e);
	else
	{
		r.method = "PUT";
		r.key = key;
		r.query = "";
		r.body = data;
		r.body_len = len;
		r.pause_midway = true;
		s = s3_perform(c, &r, e);
		s3_request_free(&r);
	}
	if (s == OBJ_OK)
	{
		objstore_count(OBJC_UPLOADS, 1);
		objstore_count(OBJC_UPLOAD_BYTES, len);
	}
	return s;
}

/* ListObjectsV2 under prefix, following continuation tokens. */
ObjStoreStatus
objstore_s3_list(const ObjStoreConfig *c, const char *prefix, ObjStoreListFn fn, void *arg,
				 ObjStoreError *e)
{
	char		token[1024] = "";
	char		full[1100];
	char		enc_prefix[3400];
	char		enc_token[3100];
	char		query[6600];
	size_t		plen = strlen(c->prefix);

	snprintf(full, sizeof(full), "%s%s", c->prefix, prefix);
	if (sigv4_uri_encode(full, false, enc_prefix, sizeof(enc_prefix)) < 0)
		return objstore_error(e, OBJ_ERROR, "key prefix too long");
	for (int page = 0; page < 100000; page++)
	{
		S3Request	r = {0};
		ObjStoreStatus s;
		const char *p;
		char		truncated[16] = "";
		bool		stop = false;

		if (token[0])
		{
			if (sigv4_uri_encode(token, false, enc_token, sizeof(enc_token)) < 0)
				return objstore_error(e, OBJ_ERROR, "continuation token too long");
			snprintf(query, sizeof(query), "continuation-token=%s&list-type=2&prefix=%s",
					 enc_token, enc_prefix);
		}
		else
			snprintf(query, sizeof(query), "list-type=2&prefix=%s", enc_prefix);
		r.method = "GET";
		r.key = NULL;
		r.query = query;
		s = s3_perform(c, &r, e);
		if (s != OBJ_OK)
		{
			s3_request_free(&r);
			return s == OBJ_NOT_FOUND ? objstore_error(e, OBJ_ERROR, "%s", e->msg) : s;
		}
		p = r.resp.data;
		while (p && !stop)
		{
			char		contents[4096];
			char		key[1100];
			char		size[32];
			const char *next;

			if (!xml_text(p, "Contents", contents, sizeof(contents), &next))
				break;
			p = next;
			if (!xml_text(contents, "Key", key, sizeof(key), NULL) ||
				!xml_text(contents, "Size", size, sizeof(size), NULL))
				continue;
			if (strncmp(key, c->prefix, plen) != 0 || strchr(key, '&') != NULL)
				continue;
			if (!fn(arg, key + plen, strtoull(size, NULL, 10)))
				stop = true;
		}
		xml_text(r.resp.data, "IsTruncated", truncated, sizeof(truncated), NULL);
		token[0] = '\0';
		if (strcmp(truncated, "true") == 0)
			xml_text(r.resp.data, "NextContinuationToken", token, sizeof(token), NULL);
		s3_request_free(&r);
		if (stop || token[0] == '\0')
			return OBJ_OK;
	}
	return objstore_error(e, OBJ_ERROR, "listing did not end");
}
