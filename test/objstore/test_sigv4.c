/*-------------------------------------------------------------------------
 *
 * test_sigv4.c
 *	  Unit tests of the SigV4 signer (src/objstore/sigv4.c) against the
 *	  example requests AWS publishes with their signatures: the S3
 *	  "signature calculations for the Authorization header" examples
 *	  (GET object with a range, PUT object, GET bucket lifecycle, list
 *	  objects) and "get-vanilla" of the SigV4 test suite.  A tiny runner
 *	  of its own, since the signer needs libcrypto, which the core does
 *	  not link: test/objstore/run_unit.sh builds it with ASan.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "sigv4.h"

static int	failures = 0;

#define CHECK_STR(a, b) \
	do { \
		if (strcmp((a), (b)) != 0) { \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, (a), (b)); \
			failures++; \
		} \
	} while (0)
#define CHECK(c) \
	do { \
		if (!(c)) { \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
			failures++; \
		} \
	} while (0)

/* the credentials of AWS's S3 examples */
#define S3_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_HOST "examplebucket.s3.amazonaws.com"
#define S3_DATE "20130524T000000Z"

static void
test_s3_get_object_range(void)
{
	SigV4Header h[] = {
		{"Host", S3_HOST},
		{"Range", "bytes=0-9"},
		{"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
		{"x-amz-date", S3_DATE},
	};
	SigV4Request r = {"GET", "/test.txt", "", h, 4, SIGV4_EMPTY_SHA256, S3_DATE,
	"us-east-1", "s3", S3_AK, S3_SK};
	char		auth[512],
				sig[65];

	CHECK(sigv4_authorization(&r, auth, sizeof(auth), sig));
	CHECK_STR(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	CHECK_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
			  "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
			  "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void
test_s3_put_object(void)
{
	const char *body = "Welcome to Amazon S3.";
	char		payload[65];
	char		path[64];
	char		auth[512],
				sig[65];

	sigv4_sha256_hex(body, strlen(body), payload);
	CHECK_STR(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	CHECK(sigv4_uri_encode("/test$file.text", true, path, sizeof(path)) > 0);
	CHECK_STR(path, "/test%24file.text");
	{
		/*
		 * headers in a different order and case than canonical: the signer
		 * sorts
		 */
		SigV4Header h[] = {
			{"x-amz-storage-class", "REDUCED_REDUNDANCY"},
			{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
			{"x-amz-date", S3_DATE},
			{"Host", S3_HOST},
			{"x-amz-content-sha256", payload},
		};
		SigV4Request r = {"PUT", path, "", h, 5, payload, S3_DATE,
		"us-east-1", "s3", S3_AK, S3_SK};

		CHECK(sigv4_authorization(&r, auth, sizeof(auth), sig));
		CHECK_STR(sig, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
		CHECK(strstr(auth, "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,") != NULL);
	}
}

static void
test_s3_get_bucket_lifecycle(void)
{
	SigV4Header h[] = {
		{"host", S3_HOST},
		{"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
		{"x-amz-date", S3_DATE},
	};
	SigV4Request r = {"GET", "/", "lifecycle=", h, 3, SIGV4_EMPTY_SHA256, S3_DATE,
	"us-east-1", "s3", S3_AK, S3_SK};
	char		auth[512],
				sig[65];

	CHECK(sigv4_authorization(&r, auth, sizeof(auth), sig));
	CHECK_STR(sig, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void
test_s3_list_objects(void)
{
	SigV4Header h[] = {
		{"host", S3_HOST},
		{"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
		{"x-amz-date", S3_DATE},
	};
	SigV4Request r = {"GET", "/", "max-keys=2&prefix=J", h, 3, SIGV4_EMPTY_SHA256, S3_DATE,
	"us-east-1", "s3", S3_AK, S3_SK};
	char		auth[512],
				sig[65];

	CHECK(sigv4_authorization(&r, auth, sizeof(auth), sig));
	CHECK_STR(sig, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* "get-vanilla" of the SigV4 test suite: another service, region and key */
static void
test_get_vanilla(void)
{
	SigV4Header h[] = {
		{"Host", "example.amazonaws.com"},
		{"X-Amz-Date", "20150830T123600Z"},
	};
	SigV4Request r = {"GET", "/", "", h, 2, SIGV4_EMPTY_SHA256, "20150830T123600Z",
		"us-east-1", "service", "AKIDEXAMPLE",
	"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
	char		auth[512],
				sig[65];

	CHECK(sigv4_authorization(&r, auth, sizeof(auth), sig));
	CHECK_STR(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	CHECK_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,"
			  "SignedHeaders=host;x-amz-date,"
			  "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

/* a changed byte anywhere changes the signature; bad inputs are refused */
static void
test_sensitivity_and_limits(void)
{
	SigV4Header h[] = {{"host", S3_HOST}, {"x-amz-date", S3_DATE}};
	SigV4Request r = {"GET", "/test.txt", "", h, 2, SIGV4_EMPTY_SHA256, S3_DATE,
	"us-east-1", "s3", S3_AK, S3_SK};
	char		a1[512],
				a2[512],
				tiny[16];

	CHECK(sigv4_authorization(&r, a1, sizeof(a1), NULL));
	r.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ";
	CHECK(sigv4_authorization(&r, a2, sizeof(a2), NULL));
	CHECK(strcmp(a1, a2) != 0);
	r.secret_key = S3_SK;
	r.path = "/test.txT";
	CHECK(sigv4_authorization(&r, a2, sizeof(a2), NULL));
	CHECK(strcmp(a1, a2) != 0);
	r.path = "/test.txt";
	/* value whitespace is canonicalised: same signature */
	{
		SigV4Header h2[] = {{"host", "  " S3_HOST "  "}, {"X-AMZ-DATE", S3_DATE}};

		r.headers = h2;
		CHECK(sigv4_authorization(&r, a2, sizeof(a2), NULL));
		CHECK_STR(a1, a2);
		r.headers = h;
	}
	CHECK(!sigv4_authorization(&r, tiny, sizeof(tiny), NULL));
	r.amz_date = "2013";
	CHECK(!sigv4_authorization(&r, a2, sizeof(a2), NULL));
	r.amz_date = S3_DATE;
	r.nheaders = SIGV4_MAX_HEADERS + 1;
	CHECK(!sigv4_authorization(&r, a2, sizeof(a2), NULL));
}

static void
test_uri_encode(void)
{
	char		out[64];

	CHECK(sigv4_uri_encode("a b/c~d_e.f-g", false, out, sizeof(out)) == 17);
	CHECK_STR(out, "a%20b%2Fc~d_e.f-g");
	CHECK(sigv4_uri_encode("a b/c", true, out, sizeof(out)) == 7);
	CHECK_STR(out, "a%20b/c");
	CHECK(sigv4_uri_encode("\xc3\xa9", false, out, sizeof(out)) == 6);
	CHECK_STR(out, "%C3%A9");
	CHECK(sigv4_uri_encode("abc", false, out, 3) == -1);
	CHECK(sigv4_uri_encode("a=", false, out, 4) == -1);
}

int
main(void)
{
	void		(*tests[]) (void) = {
		test_s3_get_object_range, test_s3_put_object, test_s3_get_bucket_lifecycle,
		test_s3_list_objects, test_get_vanilla, test_sensitivity_and_limits,
		test_uri_encode
	};
	int			n = (int) (sizeof(tests) / sizeof(tests[0]));
	int			failed_tests = 0;

	for (int i = 0; i < n; i++)
	{
		int			before = failures;

		tests[i] ();
		if (failures != before)
			failed_tests++;
	}
	printf("sigv4: %d passed, %d failed\n", n - failed_tests, failed_tests);
	return failed_tests ? 1 : 0;
}
