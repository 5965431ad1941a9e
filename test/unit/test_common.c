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
	UNIT_ENTRY(grow_overflow),
	{NULL, NULL}
};
