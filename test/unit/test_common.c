/*
 * test_common.c
 *	  Unit tests of common.c: buffers, varints, JSON strings, UTF-8.
 */
#include "unit.h"
#include "../../src/core/common.h"

TEST(varint_roundtrip)
{
	uint64_t	vals[] = {0, 1, 127, 128, 300, UINT32_MAX, UINT64_MAX};
	PyroBuf		b;
	const uint8_t *p;

	pyro_buf_init(&b);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		pyro_buf_append_varint(&b, vals[i]);
	p = b.data;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
	{
		uint64_t	v = 0;

		CHECK(pyro_read_varint(&p, b.data + b.len, &v));
		CHECK(v == vals[i]);
	}
	CHECK(p == b.data + b.len);
	pyro_buf_free(&b);
}

TEST(varint_truncated_and_overlong)
{
	const uint8_t trunc[] = {0x80, 0x80};
	const uint8_t overlong[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	const uint8_t *p = trunc;
	uint64_t	v;

	CHECK(!pyro_read_varint(&p, trunc + sizeof(trunc), &v));
	p = overlong;
	CHECK(!pyro_read_varint(&p, overlong + sizeof(overlong), &v));
}

TEST(zigzag)
{
	int64_t		vals[] = {0, -1, 1, INT64_MIN, INT64_MAX};

	for (size_t i = 0; i < 5; i++)
		CHECK(pyro_zigzag_dec(pyro_zigzag_enc(vals[i])) == vals[i]);
}

TEST(json_string_escapes)
{
	PyroBuf		b;

	pyro_buf_init(&b);
	pyro_buf_append_json_str(&b, "a\"b\\c\n\x01\xff", 8);
	CHECK_EQ_STR((char *) b.data, "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\"");
	pyro_buf_free(&b);
}

TEST(int64_format)
{
	PyroBuf		b;

	pyro_buf_init(&b);
	pyro_buf_append_int64(&b, INT64_MIN);
	pyro_buf_append_byte(&b, ' ');
	pyro_buf_append_int64(&b, 0);
	pyro_buf_append_byte(&b, ' ');
	pyro_buf_append_int64(&b, 42);
	CHECK_EQ_STR((char *) b.data, "-9223372036854775808 0 42");
	pyro_buf_free(&b);
}

TEST(utf8_validation)
{
	CHECK(pyro_utf8_valid("héllo", strlen("héllo")));
	CHECK(!pyro_utf8_valid("\xc0\xaf", 2));
	CHECK(!pyro_utf8_valid("\xed\xa0\x80", 3));
	CHECK(!pyro_utf8_valid("\xe2\x82", 2));
}

/*
 * The ASCII runs are checked eight bytes at a time: a sequence anywhere
 * before, inside or after such a run, and cut off at the end, is still
 * judged as alone.
 */
TEST(utf8_validation_after_ascii_runs)
{
	static const struct
	{
		const char *seq;
		int			valid;
	}			seqs[] = {
		{"\xc3\xa9", 1},		/* e acute */
		{"\xe2\x82\xac", 1},	/* euro sign */
		{"\xf0\x9f\x94\xa5", 1},	/* four bytes */
		{"\xc0\xaf", 0},		/* overlong */
		{"\x80", 0},			/* lone continuation */
		{"\xed\xa0\x80", 0},	/* surrogate */
		{"\xe2\x82", 0},		/* cut off */
		{"\xff", 0},
	};
	char		buf[64];

	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		for (size_t before = 0; before < 20; before++)
			for (size_t after = 0; after < 20; after++)
			{
				size_t		n = strlen(seqs[i].seq);

				memset(buf, 'a', before);
				memcpy(buf + before, seqs[i].seq, n);
				memset(buf + before + n, 'b', after);
				CHECK(pyro_utf8_valid(buf, before + n + after) == (bool) seqs[i].valid);
				/* the sequence's first byte alone ends the string */
				if (n > 1)
					CHECK(!pyro_utf8_valid(buf, before + 1));
			}
}

TEST(grow_overflow)
{
	void	   *arr = NULL;
	size_t		cap = 0;

	CHECK(!pyro_grow(&arr, &cap, SIZE_MAX / 2, 16));
	CHECK(arr == NULL && cap == 0);
	CHECK(pyro_grow(&arr, &cap, 100, 8));
	CHECK(cap >= 100);
	pyro_free(arr);
}

const UnitTest common_tests[] = {
	UNIT_ENTRY(varint_roundtrip),
	UNIT_ENTRY(varint_truncated_and_overlong),
	UNIT_ENTRY(zigzag),
	UNIT_ENTRY(json_string_escapes),
	UNIT_ENTRY(int64_format),
	UNIT_ENTRY(utf8_validation),
	UNIT_ENTRY(utf8_validation_after_ascii_runs),
	UNIT_ENTRY(grow_overflow),
	{NULL, NULL}
};
