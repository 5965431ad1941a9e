/*-------------------------------------------------------------------------
 *
 * pprof_fixup.c
 *	  The function names old Pyroscope agents of scripting languages send
 *	  (py-spy, rbspy and the generic "scripting" spy), rewritten as
 *	  upstream rewrites them on /ingest (spec §10.1): "<filename>
 *	  <function>", for py-spy only where the filename is relative.
 *
 * The pprof is copied field by field; Function messages get a new name
 * index, the new names are appended to the string table.  Nothing else
 * changes, so the result normalises like the input apart from the names.
 *
 *-------------------------------------------------------------------------
 */
#include "pprof.h"

#include "pbwire.h"

typedef struct FixStr
{
	const uint8_t *p;
	size_t		len;
} FixStr;

static void
put_field(PyroBuf *b, uint32_t field, int wt)
{
	pyro_buf_append_varint(b, ((uint64_t) field << 3) | (uint64_t) wt);
}

PyroStatus
pyro_pprof_fix_script_names(const uint8_t *data, size_t len, bool pyspy, size_t max_decompressed,
							PyroBuf *out, bool *changed, PyroError *err)
{
	PyroBuf		raw;
	const uint8_t *p,
			   *end;
	FixStr	   *strs = NULL;
	size_t		nstrs = 0,
				strs_cap = 0;
	PyroBuf		extra;			/* appended string_table entries */
	size_t		nextra = 0;
	PyroStatus	st = PYRO_OK;

	*changed = false;
	pyro_buf_init(&raw);
	pyro_buf_init(&extra);
	pyro_buf_init(out);
	if (pyro_is_gzip(data, len))
	{
		if ((st = pyro_gunzip(data, len, max_decompressed, &raw, err)) != PYRO_OK)
			return st;
		data = raw.data;
		len = raw.len;
	}
	end = data + len;

	/* the string table */
	for (p = data; p < end;)
	{
		PyroPbField f = {0};

		if ((p = pyro_pb_next(p, end, &f)) == NULL)
		{
			st = pyro_error_set(err, PYRO_EINVAL, "malformed pprof");
			goto done;
		}
		if (f.field == 6 && f.wt == 2)
		{
			if (!pyro_grow((void **) &strs, &strs_cap, nstrs + 1, sizeof(FixStr)))
			{
				st = pyro_error_set(err, PYRO_ENOMEM, "out of memory");
				goto done;
			}
			strs[nstrs].p = f.data;
			strs[nstrs++].len = f.len;
		}
	}

	/* every field again, functions renamed */
	for (p = data; p < end;)
	{
		PyroPbField f = {0};
		const uint8_t *next = pyro_pb_next(p, end, &f);
		uint64_t	name = 0,
					file = 0;
		PyroBuf		fn;

		if (f.field != 5 || f.wt != 2)
		{
			pyro_buf_append(out, p, (size_t) (next - p));
			p = next;
			continue;
		}
		for (const uint8_t *q = f.data; q < f.data + f.len;)
		{
			PyroPbField g = {0};

			if ((q = pyro_pb_next(q, f.data + f.len, &g)) == NULL)
			{
				st = pyro_error_set(err, PYRO_EINVAL, "malformed pprof function");
				goto done;
			}
			if (g.field == 2 && g.wt == 0)
				name = g.v;
			else if (g.field == 4 && g.wt == 0)
				file = g.v;
		}
		if (name >= nstrs || file >= nstrs || file == 0 || strs[file].len == 0 ||
			(pyspy && strs[file].p[0] == '/'))
		{
			pyro_buf_append(out, p, (size_t) (next - p));
			p = next;
			continue;
		}
		/* the new name: "<filename> <function>" */
		put_field(&extra, 6, 2);
		pyro_buf_append_varint(&extra, strs[file].len + 1 + strs[name].len);
		pyro_buf_append(&extra, strs[file].p, strs[file].len);
		pyro_buf_append_byte(&extra, ' ');
		pyro_buf_append(&extra, strs[name].p, strs[name].len);
		pyro_buf_init(&fn);
		for (const uint8_t *q = f.data; q < f.data + f.len;)
		{
			PyroPbField g = {0};
			const uint8_t *qn = pyro_pb_next(q, f.data + f.len, &g);

			if (g.field == 2 && g.wt == 0)
			{
				put_field(&fn, 2, 0);
				pyro_buf_append_varint(&fn, nstrs + nextra);
			}
			else
				pyro_buf_append(&fn, q, (size_t) (qn - q));
			q = qn;
		}
		if (name == 0)
		{
			/* the name was absent (index 0): add it */
			put_field(&fn, 2, 0);
			pyro_buf_append_varint(&fn, nstrs + nextra);
		}
		nextra++;
		put_field(out, 5, 2);
		pyro_buf_append_varint(out, fn.len);
		pyro_buf_append(out, fn.data, fn.len);
		pyro_buf_free(&fn);
		*changed = true;
		p = next;
	}
	pyro_buf_append(out, extra.data, extra.len);
	if (out->oom || extra.oom)
		st = pyro_error_set(err, PYRO_ENOMEM, "out of memory");

done:
	pyro_free(strs);
	pyro_buf_free(&raw);
	pyro_buf_free(&extra);
	if (st != PYRO_OK)
		pyro_buf_free(out);
	return st;
}
