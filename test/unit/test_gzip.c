/*
 * test_gzip.c
 *	  Unit tests of gzip.c, cross-checked against zlib: round trips both
 *	  ways, the size limit, multi-member streams, lying size trailers and
 *	  garbage.
 */
#include "unit.h"
#include "../../src/core/pprof.h"

#include <zlib.h>

/* Gzip with zlib (an independent implementation). */
static bool
zlib_gzip(const uint8_t *in, size_t len, PyroBuf *out)
{
	z_stream	z;
	uint8_t		tmp[4096];
	int			rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	z.next_in = (Bytef *) in;
	z.avail_in = (uInt) len;
	do
	{
		z.next_out = tmp;

		z.avail_out = sizeof(tmp);
		rc = deflate(&z, Z_FINISH);
		pyro_buf_append(out, tmp, sizeof(tmp) - z.avail_out);
	} while (rc == Z_OK);
	deflateEnd(&z);
	return rc == Z_STREAM_END;
}

/* Gunzip one member with zlib. */
static bool
zlib_gunzip(const uint8_t *in, size_t len, PyroBuf *out)
{
	z_stream	z;
	uint8_t		tmp[4096];
	int			rc;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return false;
	z.next_in = (Bytef *) in;
	z.avail_in = (uInt) len;
	do
	{
		z.next_out = tmp;

		z.avail_out = sizeof(tmp);
		rc = inflate(&z, Z_NO_FLUSH);
		pyro_buf_append(out, tmp, sizeof(tmp) - z.avail_out);
	} while (rc == Z_OK);
	inflateEnd(&z);
	return rc == Z_STREAM_END;
}

/* Some compressible but not trivial text. */
static void
sample_text(PyroBuf *b, size_t n)
{
	uint32_t	x = 1;

	while (b->len < n)
	{
		x = x * 1103515245u + 12345u;
		pyro_buf_printf(b, "frame_%u;", (x >> 16) % 500);
	}
	b->len = n;
}

TEST(gzip_roundtrip_crosschecked_with_zlib)
{
	PyroBuf text;
	PyroBuf		ours;
	PyroBuf		back;
	PyroBuf		theirs;
	PyroError	err;

	pyro_buf_init(&text);
	pyro_buf_init(&ours);
	pyro_buf_init(&back);
	pyro_buf_init(&theirs);
	sample_text(&text, 300000);

	/* ours -> zlib */
	CHECK_EQ_INT(pyro_gzip(text.data, text.len, 6, &ours, &err), PYRO_OK);
	CHECK(pyro_is_gzip(ours.data, ours.len));
	CHECK(ours.len < text.len / 2);
	CHECK(zlib_gunzip(ours.data, ours.len, &back));
	CHECK(back.len == text.len && memcmp(back.data, text.data, text.len) == 0);

	/* zlib -> ours, appended after existing content */
	back.len = 0;
	pyro_buf_append(&back, "xy", 2);
	CHECK(zlib_gzip(text.data, text.len, &theirs));
	CHECK_EQ_INT(pyro_gunzip(theirs.data, theirs.len, 1 << 20, &back, &err), PYRO_OK);
	CHECK_EQ_INT(back.len, text.len + 2);
	CHECK(memcmp(back.data, "xy", 2) == 0);
	CHECK(back.len == text.len + 2 && memcmp(back.data + 2, text.data, text.len) == 0);

	/* levels 0 and 12, and empty input */
	for (int level = 0; level <= 12; level += 12)
	{
		ours.len = 0;
		back.len = 0;
		CHECK_EQ_INT(pyro_gzip(text.data, 1000, level, &ours, &err), PYRO_OK);
		CHECK_EQ_INT(pyro_gunzip(ours.data, ours.len, 0, &back, &err), PYRO_OK);
		CHECK(back.len == 1000 && memcmp(back.data, text.data, 1000) == 0);
	}
	ours.len = 0;
	back.len = 0;
	CHECK_EQ_INT(pyro_gzip(NULL, 0, 6, &ours, &err), PYRO_OK);
	CHECK_EQ_INT(pyro_gunzip(ours.data, ours.len, 10, &back, &err), PYRO_OK);
	CHECK_EQ_INT(back.len, 0);

	pyro_buf_free(&text);
	pyro_buf_free(&ours);
	pyro_buf_free(&back);
	pyro_buf_free(&theirs);
}

TEST(gunzip_limit)
{
	PyroBuf text;
	PyroBuf		gz;
	PyroBuf		out;
	PyroError	err;

	pyro_buf_init(&text);
	pyro_buf_init(&gz);
	pyro_buf_init(&out);
	for (int i = 0; i < 100000; i++)
		pyro_buf_append_byte(&text, 'a');
	REQUIRE(pyro_gzip(text.data, text.len, 6, &gz, &err) == PYRO_OK);
	CHECK(gz.len < 1000);		/* a zip bomb in miniature */

	CHECK_EQ_INT(pyro_gunzip(gz.data, gz.len, 99999, &out, &err), PYRO_ELIMIT);
	CHECK_EQ_STR(err.msg, "decompressed size exceeds limit of 99999 bytes");
	CHECK_EQ_INT(out.len, 0);	/* nothing half-written is left */
	CHECK_EQ_INT(pyro_gunzip(gz.data, gz.len, 100000, &out, &err), PYRO_OK);
	CHECK_EQ_INT(out.len, 100000);

	/* an ISIZE trailer claiming 4 GiB does not make us allocate it */
	out.len = 0;
	gz.data[gz.len - 1] = 0xff;
	gz.data[gz.len - 2] = 0xff;
	gz.data[gz.len - 3] = 0xff;
	gz.data[gz.len - 4] = 0xff;
	CHECK_EQ_INT(pyro_gunzip(gz.data, gz.len, 1 << 20, &out, &err), PYRO_EINVAL);
	CHECK(out.cap <= (2 << 20));
	/* ... and one claiming 1 byte is only a hint */
	gz.data[gz.len - 1] = 0;
	gz.data[gz.len - 2] = 0;
	gz.data[gz.len - 3] = 0;
	gz.data[gz.len - 4] = 1;
	CHECK_EQ_INT(pyro_gunzip(gz.data, gz.len, 1 << 20, &out, &err), PYRO_EINVAL);

	pyro_buf_free(&text);
	pyro_buf_free(&gz);
	pyro_buf_free(&out);
}

TEST(gunzip_multi_member)
{
	PyroBuf		gz;
	PyroBuf		out;
	PyroBuf		big;
	PyroError	err;

	pyro_buf_init(&gz);
	pyro_buf_init(&out);
	pyro_buf_init(&big);
	REQUIRE(pyro_gzip((const uint8_t *) "hello ", 6, 6, &gz, &err) == PYRO_OK);
	REQUIRE(zlib_gzip((const uint8_t *) "", 0, &gz));
	REQUIRE(pyro_gzip((const uint8_t *) "world", 5, 1, &gz, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_gunzip(gz.data, gz.len, 100, &out, &err), PYRO_OK);
	CHECK_EQ_INT(out.len, 11);
	CHECK_EQ_STR((char *) out.data, "hello world");

	/* the limit counts all members together */
	out.len = 0;
	CHECK_EQ_INT(pyro_gunzip(gz.data, gz.len, 10, &out, &err), PYRO_ELIMIT);
	out.len = 0;
	CHECK_EQ_INT(pyro_gunzip(gz.data, gz.len, 11, &out, &err), PYRO_OK);

	/* a large first member whose size the last trailer does not tell */
	sample_text(&big, 50000);
	gz.len = 0;
	REQUIRE(pyro_gzip(big.data, big.len, 6, &gz, &err) == PYRO_OK);
	REQUIRE(pyro_gzip((const uint8_t *) "!", 1, 6, &gz, &err) == PYRO_OK);
	out.len = 0;
	CHECK_EQ_INT(pyro_gunzip(gz.data, gz.len, 0, &out, &err), PYRO_OK);
	CHECK_EQ_INT(out.len, 50001);
	CHECK(out.len == 50001 && memcmp(out.data, big.data, 50000) == 0 && out.data[50000] == '!');

	pyro_buf_free(&gz);
	pyro_buf_free(&out);
	pyro_buf_free(&big);
}

TEST(gunzip_garbage)
{
	PyroBuf		gz;
	PyroBuf		out;
	PyroError	err;
	const uint8_t junk[] = {0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

	pyro_buf_init(&gz);
	pyro_buf_init(&out);
	CHECK_EQ_INT(pyro_gunzip(junk, sizeof(junk), 100, &out, &err), PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "invalid gzip data");
	CHECK_EQ_INT(pyro_gunzip((const uint8_t *) "not gzip at all, really", 23, 100, &out, &err),
				 PYRO_EINVAL);
	CHECK_EQ_INT(pyro_gunzip(junk, 2, 100, &out, &err), PYRO_EINVAL);
	CHECK_EQ_INT(pyro_gunzip(NULL, 0, 100, &out, &err), PYRO_EINVAL);

	/* trailing garbage after a valid member */
	REQUIRE(pyro_gzip((const uint8_t *) "abc", 3, 6, &gz, &err) == PYRO_OK);
	pyro_buf_append(&gz, "\0\0\0", 3);
	CHECK_EQ_INT(pyro_gunzip(gz.data, gz.len, 100, &out, &err), PYRO_EINVAL);
	CHECK_EQ_INT(out.len, 0);

	/* every truncation of a valid stream fails cleanly */
	gz.len -= 3;
	for (size_t k = 0; k < gz.len; k++)
	{
		uint8_t    *copy = malloc(k ? k : 1);

		REQUIRE(copy != NULL);
		memcpy(copy, gz.data, k);
		CHECK_EQ_INT(pyro_gunzip(copy, k, 100, &out, &err), PYRO_EINVAL);
		free(copy);
	}
	pyro_buf_free(&gz);
	pyro_buf_free(&out);
}

/* A real pprof from the test data decompresses exactly as zlib does it. */
TEST(gunzip_testdata_matches_zlib)
{
	size_t		len;
	unsigned char *data = unit_read_file(unit_data_path("pprof/go/cpu.pb.gz"), &len);
	PyroBuf		ours;
	PyroBuf		theirs;
	PyroError	err;

	REQUIRE(data != NULL);
	pyro_buf_init(&ours);
	pyro_buf_init(&theirs);
	CHECK_EQ_INT(pyro_gunzip(data, len, 4 << 20, &ours, &err), PYRO_OK);
	CHECK(zlib_gunzip(data, len, &theirs));
	CHECK(ours.len > len);
	CHECK(ours.len == theirs.len && memcmp(ours.data, theirs.data, ours.len) == 0);
	pyro_buf_free(&ours);
	pyro_buf_free(&theirs);
	free(data);
}

const UnitTest gzip_tests[] = {
	UNIT_ENTRY(gzip_roundtrip_crosschecked_with_zlib),
	UNIT_ENTRY(gunzip_limit),
	UNIT_ENTRY(gunzip_multi_member),
	UNIT_ENTRY(gunzip_garbage),
	UNIT_ENTRY(gunzip_testdata_matches_zlib),
	{NULL, NULL}
};
