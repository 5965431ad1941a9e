/*-------------------------------------------------------------------------
 *
 * http_tls.c
 *	  TLS of the HTTP API: the certificate and key of
 *	  pyroscope.http_tls_cert_file and _key_file, handed to GnuTLS (through
 *	  libmicrohttpd) for each handshake by a callback, so that a SIGHUP
 *	  that changes the files takes effect for new connections without
 *	  restarting the listener.  TLS 1.2 and 1.3 only.
 *
 *	  The worker is single-threaded: handshakes run inside MHD_run, reloads
 *	  between rounds.  A handshake spans several rounds, so the credentials
 *	  of earlier generations stay alive (the last few are kept).
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <microhttpd.h>
#include <sys/stat.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"

/* GnuTLS priorities: its defaults, without anything older than TLS 1.2 */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define TLS_GENERATIONS 4

typedef struct TlsCreds
{
	gnutls_pcert_st pcerts[16];
	unsigned int npcerts;
	gnutls_privkey_t key;
} TlsCreds;

static TlsCreds *generations[TLS_GENERATIONS];
static int	ngenerations = 0;
static char *loaded_cert_path = NULL;
static char *loaded_key_path = NULL;
static struct timespec loaded_cert_mtime;
static struct timespec loaded_key_mtime;

static void
creds_free(TlsCreds *c)
{
	for (unsigned int i = 0; i < c->npcerts; i++)
		gnutls_pcert_deinit(&c->pcerts[i]);
	if (c->key)
		gnutls_privkey_deinit(c->key);
	free(c);
}

/* A GUC path, relative ones under the data directory (palloc'd). */
static char *
tls_path(const char *p)
{
	if (is_absolute_path(p))
		return pstrdup(p);
	return psprintf("%s/%s", DataDir, p);
}

/* The whole of a file (at most 1 MB), as a gnutls datum; errors out. */
static gnutls_datum_t
read_pem(const char *path, const char *what, struct timespec *mtime)
{
	FILE	   *f;
	struct stat st;
	gnutls_datum_t d;
	size_t		n;

	f = AllocateFile(path, "rb");
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open the TLS %s file \"%s\": %m", what, path)));
	if (fstat(fileno(f), &st) != 0 || st.st_size <= 0 || st.st_size > 1024 * 1024)
	{
		FreeFile(f);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the TLS %s file \"%s\" is empty, unreadable or over 1 MB", what, path)));
	}
	*mtime = st.st_mtim;
	d.data = palloc(st.st_size + 1);
	n = fread(d.data, 1, st.st_size, f);
	FreeFile(f);
	if (n != (size_t) st.st_size)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read the TLS %s file \"%s\"", what, path)));
	d.data[n] = '\0';
	d.size = (unsigned int) n;
	return d;
}

/*
 * Load the certificate chain and key of the GUCs as the newest generation;
 * errors out (leaving the current ones in place) when they do not load or
 * do not match.
 */
static void
tls_load(const char *cert_path, const char *key_path)
{
	gnutls_datum_t cert;
	gnutls_datum_t key;
	struct timespec cert_mtime;
	struct timespec key_mtime;
	TlsCreds   *c;
	int			rc;

	cert = read_pem(cert_path, "certificate", &cert_mtime);
	key = read_pem(key_path, "key", &key_mtime);
	c = calloc(1, sizeof(TlsCreds));
	if (c == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	c->npcerts = lengthof(c->pcerts);
	rc = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->npcerts, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0)
	{
		c->npcerts = 0;
		creds_free(c);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not load the TLS certificate file \"%s\": %s", cert_path,
						gnutls_strerror(rc))));
	}
	if ((rc = gnutls_privkey_init(&c->key)) < 0 ||
		(rc = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
	{
		explicit_bzero(key.data, key.size);
		creds_free(c);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not load the TLS key file \"%s\": %s", key_path,
						gnutls_strerror(rc))));
	}
	explicit_bzero(key.data, key.size);

	/* the key must be the certificate's */
	{
		gnutls_pubkey_t pub = c->pcerts[0].pubkey;
		gnutls_datum_t probe = {(unsigned char *) "pyroscope", 9};
		gnutls_datum_t sig = {NULL, 0};
		gnutls_sign_algorithm_t algo;
		int			pk = gnutls_pubkey_get_pk_algorithm(pub, NULL);

		algo = gnutls_pk_to_sign(pk, GNUTLS_DIG_SHA256);
		rc = gnutls_privkey_sign_data2(c->key, algo, 0, &probe, &sig);
		if (rc >= 0)
			rc = gnutls_pubkey_verify_data2(pub, algo, 0, &probe, &sig);
		gnutls_free(sig.data);
		if (rc < 0)
		{
			creds_free(c);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the TLS key file \"%s\" does not belong to the certificate of \"%s\"",
							key_path, cert_path)));
		}
	}

	if (ngenerations == TLS_GENERATIONS)
	{
		creds_free(generations[0]);
		memmove(generations, generations + 1, sizeof(generations[0]) * (TLS_GENERATIONS - 1));
		ngenerations--;
	}
	generations[ngenerations++] = c;
	if (loaded_cert_path)
		pfree(loaded_cert_path);
	if (loaded_key_path)
		pfree(loaded_key_path);
	loaded_cert_path = MemoryContextStrdup(TopMemoryContext, cert_path);
	loaded_key_path = MemoryContextStrdup(TopMemoryContext, key_path);
	loaded_cert_mtime = cert_mtime;
	loaded_key_mtime = key_mtime;
}

/* GnuTLS asks which certificate to present: the newest generation's. */
static int
tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
			 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	TlsCreds   *c;

	if (ngenerations == 0)
		return -1;
	c = generations[ngenerations - 1];
	*pcert = c->pcerts;
	*pcert_length = c->npcerts;
	*pkey = c->key;
	return 0;
}

/* Whether TLS is configured (both files named). */
bool
http_tls_enabled(void)
{
	return pyroscope_http_tls_cert_file && pyroscope_http_tls_cert_file[0] &&
		pyroscope_http_tls_key_file && pyroscope_http_tls_key_file[0];
}

/*
 * The daemon flags and options of TLS, for http_server_start: loads the
 * files (errors out when they do not load).  Returns the flags to add.
 */
unsigned int
http_tls_setup(void)
{
	if (!http_tls_enabled())
	{
		if ((pyroscope_http_tls_cert_file && pyroscope_http_tls_cert_file[0]) ||
			(pyroscope_http_tls_key_file && pyroscope_http_tls_key_file[0]))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("TLS needs both pyroscope.http_tls_cert_file and pyroscope.http_tls_key_file")));
		return 0;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
		MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("this libmicrohttpd has no TLS support")));
	tls_load(tls_path(pyroscope_http_tls_cert_file), tls_path(pyroscope_http_tls_key_file));
	return MHD_USE_TLS;
}

const char *
http_tls_priorities(void)
{
	return TLS_PRIORITIES;
}

void *
http_tls_callback(void)
{
	return (void *) tls_retrieve;
}

/*
 * After a configuration reload: load the files again when their names or
 * contents changed (new connections then get the new certificate).  A
 * change that does not load keeps the old certificate and logs why; TLS
 * cannot be switched on or off without a restart.
 */
void
http_tls_reload(void)
{
	char	   *cert_path;
	char	   *key_path;
	struct stat cst;
	struct stat kst;

	if (ngenerations == 0)
	{
		if (http_tls_enabled())
			ereport(LOG,
					(errmsg("pyroscope.http_tls_cert_file and _key_file take effect at the next restart: the HTTP API was started without TLS")));
		return;
	}
	if (!http_tls_enabled())
	{
		ereport(LOG,
				(errmsg("TLS of the HTTP API stays on until the next restart")));
		return;
	}
	cert_path = tls_path(pyroscope_http_tls_cert_file);
	key_path = tls_path(pyroscope_http_tls_key_file);
	if (strcmp(cert_path, loaded_cert_path) == 0 && strcmp(key_path, loaded_key_path) == 0 &&
		stat(cert_path, &cst) == 0 && stat(key_path, &kst) == 0 &&
		cst.st_mtim.tv_sec == loaded_cert_mtime.tv_sec &&
		cst.st_mtim.tv_nsec == loaded_cert_mtime.tv_nsec &&
		kst.st_mtim.tv_sec == loaded_key_mtime.tv_sec &&
		kst.st_mtim.tv_nsec == loaded_key_mtime.tv_nsec)
		return;
	PG_TRY();
	{
		tls_load(cert_path, key_path);
		ereport(LOG,
				(errmsg("pyroscope http worker %d reloaded its TLS certificate from \"%s\"",
						http_worker_index, cert_path)));
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		ereport(LOG,
				(errmsg("pyroscope http worker %d keeps its TLS certificate", http_worker_index)));
	}
	PG_END_TRY();
}
