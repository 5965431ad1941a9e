/*-------------------------------------------------------------------------
 *
 * svg.c
 *	  Flame graphs as SVG (see svg.h).
 *
 *	  Layout: the frames span PYRO_SVG_WIDTH - 2 * PYRO_SVG_MARGIN pixels
 *	  for all the ticks (for a diff, the ticks of both sides), one row of
 *	  FRAME_H pixels per level below a header.  Colours: a warm hue chosen
 *	  by the name's hash for a single graph; for a diff, grey when a
 *	  frame's share is unchanged, shading to red as it grows on the right
 *	  and to green as it shrinks (as Pyroscope colours diffs).
 *
 *-------------------------------------------------------------------------
 */
#include "svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FRAME_H		18			/* px per level */
#define HEADER_H	50			/* px above the root */
#define FOOTER_H	10
#define CHAR_W		7.0			/* px per character of the 12 px font */

static void
append_fmt_double(PyroBuf *out, double v)
{
	char		buf[64];

	snprintf(buf, sizeof(buf), "%.2f", v);
	pyro_buf_append_str(out, buf);
}

/* s as XML character data or attribute text; at most max bytes of it. */
static void
append_xml(PyroBuf *out, const char *s, size_t max)
{
	size_t		n = strlen(s);

	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		switch (c)
		{
			case '&':
				pyro_buf_append_str(out, "&amp;");
				break;
			case '<':
				pyro_buf_append_str(out, "&lt;");
				break;
			case '>':
				pyro_buf_append_str(out, "&gt;");
				break;
			case '"':
				pyro_buf_append_str(out, "&quot;");
				break;
			case '\'':
				pyro_buf_append_str(out, "&apos;");
				break;
			default:
				/* control characters are not allowed in XML 1.0 */
				pyro_buf_append_byte(out, c < 0x20 ? '?' : c);
		}
	}
}

/* Bytes of the first chars characters of UTF-8 s (never splits one). */
static size_t
utf8_prefix(const char *s, size_t chars)
{
	size_t		i = 0;

	while (s[i] && chars > 0)
	{
		i++;
		while ((s[i] & 0xC0) == 0x80)
			i++;
		chars--;
	}
	return i;
}

static size_t
utf8_len(const char *s)
{
	size_t		n = 0;

	for (; *s; s++)
		if ((*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* FNV-1a of a name, for its colour */
static uint32_t
name_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h;
}

static void
single_colour(const char *name, bool root, char *buf, size_t len)
{
	uint32_t	h = name_hash(name);

	if (root)
	{
		snprintf(buf, len, "rgb(170,170,170)");
		return;
	}
	/* warm: red 205-255, green 70-200, blue 20-70 */
	snprintf(buf, len, "rgb(%u,%u,%u)", 205 + h % 51, 70 + (h >> 8) % 131, 20 + (h >> 16) % 51);
}

/*
 * The colour of a diff frame: its share of each side's ticks compared; a
 * frame only on the right is full red, only on the left full green.
 */
static void
diff_colour(int64_t l, int64_t r, int64_t lticks, int64_t rticks, char *buf, size_t len)
{
	double		ls = lticks > 0 ? (double) l / (double) lticks : 0;
	double		rs = rticks > 0 ? (double) r / (double) rticks : 0;
	double		change;
	double		k;

	if (ls == 0 && rs == 0)
		change = 0;
	else if (ls == 0)
		change = 1;
	else
		change = (rs - ls) / ls;
	if (change > 1)
		change = 1;
	if (change < -1)
		change = -1;
	k = fabs(change);
	if (k < 0.01)
		snprintf(buf, len, "rgb(190,190,190)");
	else if (change > 0)		/* grey to red */
		snprintf(buf, len, "rgb(%d,%d,%d)", (int) (190 + 50 * k), (int) (190 - 130 * k),
				 (int) (190 - 130 * k));
	else						/* grey to green */
		snprintf(buf, len, "rgb(%d,%d,%d)", (int) (190 - 130 * k), (int) (190 + 20 * k),
				 (int) (190 - 130 * k));
}

static void
append_share(PyroBuf *out, int64_t v, int64_t of)
{
	char		buf[48];

	snprintf(buf, sizeof(buf), "%.2f%%", of > 0 ? 100.0 * (double) v / (double) of : 0.0);
	pyro_buf_append_str(out, buf);
}

static void
append_unit(PyroBuf *out, const char *unit)
{
	if (unit && unit[0])
	{
		pyro_buf_append_byte(out, ' ');
		append_xml(out, unit, 64);
	}
}

void
pyro_flamegraph_svg(const PyroFlamegraph *fg, const char *title, const char *unit, PyroBuf *out)
{
	bool		diff = fg->width == 7;
	int64_t		ticks = diff ? fg->left_ticks + fg->right_ticks : fg->total;
	double		span = PYRO_SVG_WIDTH - 2 * PYRO_SVG_MARGIN;
	double		scale = ticks > 0 ? span / (double) ticks : 0;
	int			height = HEADER_H + (int) fg->nlevels * FRAME_H + FOOTER_H;
	char		num[64];

	pyro_buf_append_str(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
						"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"");
	pyro_buf_append_int64(out, PYRO_SVG_WIDTH);
	pyro_buf_append_str(out, "\" height=\"");
	pyro_buf_append_int64(out, height);
	pyro_buf_append_str(out, "\" viewBox=\"0 0 ");
	pyro_buf_append_int64(out, PYRO_SVG_WIDTH);
	pyro_buf_append_byte(out, ' ');
	pyro_buf_append_int64(out, height);
	pyro_buf_append_str(out, "\" data-ticks=\"");
	pyro_buf_append_int64(out, ticks);
	pyro_buf_append_str(out, "\">\n"
						"<style>text{font-family:Verdana,sans-serif;font-size:12px;fill:#000}"
						"text.h{font-size:17px}text.s{font-size:12px;fill:#555}"
						"g.f:hover rect{stroke:#000;stroke-width:0.5}</style>\n"
						"<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
						"<text class=\"h\" x=\"");
	pyro_buf_append_int64(out, PYRO_SVG_WIDTH / 2);
	pyro_buf_append_str(out, "\" y=\"22\" text-anchor=\"middle\">");
	append_xml(out, title && title[0] ? title : (diff ? "Diff flame graph" : "Flame graph"), 1024);
	pyro_buf_append_str(out, "</text>\n<text class=\"s\" x=\"");
	pyro_buf_append_int64(out, PYRO_SVG_WIDTH / 2);
	pyro_buf_append_str(out, "\" y=\"40\" text-anchor=\"middle\">");
	if (diff)
	{
		pyro_buf_append_str(out, "baseline ");
		pyro_buf_append_int64(out, fg->left_ticks);
		pyro_buf_append_str(out, ", comparison ");
		pyro_buf_append_int64(out, fg->right_ticks);
		append_unit(out, unit);
		pyro_buf_append_str(out, " \xe2\x80\x94 red: a larger share in the comparison, green: smaller");
	}
	else
	{
		pyro_buf_append_str(out, "total ");
		pyro_buf_append_int64(out, fg->total);
		append_unit(out, unit);
	}
	pyro_buf_append_str(out, "</text>\n");

	for (uint32_t d = 0; d < fg->nlevels; d++)
	{
		const int64_t *v = fg->levels[d];
		int64_t		prev_l = 0;
		int64_t		prev_r = 0;
		double		y = HEADER_H + (double) d * FRAME_H;

		for (size_t i = 0; i + (size_t) fg->width <= fg->level_len[d]; i += fg->width)
		{
			int64_t		x;
			int64_t		total;
			int64_t		self;
			int64_t		l = 0,
						r = 0,
						ls = 0,
						rs = 0;
			uint32_t	name_idx;
			const char *name;
			double		px;
			double		w;
			char		colour[48];

			if (diff)
			{
				int64_t		xl = v[i] + prev_l;
				int64_t		xr = v[i + 3] + prev_r;

				l = v[i + 1];
				ls = v[i + 2];
				r = v[i + 4];
				rs = v[i + 5];
				prev_l = xl + l;
				prev_r = xr + r;
				x = xl + xr;
				total = l + r;
				self = ls + rs;
				name_idx = (uint32_t) v[i + 6];
			}
			else
			{
				x = v[i] + prev_l;
				total = v[i + 1];
				self = v[i + 2];
				prev_l = x + total;
				name_idx = (uint32_t) v[i + 3];
			}
			name = name_idx < fg->nnames ? fg->names[name_idx] : "?";
			px = PYRO_SVG_MARGIN + (double) x * scale;
			w = (double) total * scale;
			if (diff)
				diff_colour(l, r, fg->left_ticks, fg->right_ticks, colour, sizeof(colour));
			else
				single_colour(name, d == 0, colour, sizeof(colour));

			pyro_buf_append_str(out, "<g class=\"f\" data-depth=\"");
			pyro_buf_append_int64(out, d);
			pyro_buf_append_str(out, "\" data-x=\"");
			pyro_buf_append_int64(out, x);
			pyro_buf_append_str(out, "\" data-total=\"");
			pyro_buf_append_int64(out, total);
			pyro_buf_append_str(out, "\" data-self=\"");
			pyro_buf_append_int64(out, self);
			if (diff)
			{
				pyro_buf_append_str(out, "\" data-left=\"");
				pyro_buf_append_int64(out, l);
				pyro_buf_append_str(out, "\" data-right=\"");
				pyro_buf_append_int64(out, r);
			}
			pyro_buf_append_str(out, "\"><title>");
			append_xml(out, name, 4096);
			if (diff)
			{
				double		lsh = fg->left_ticks > 0 ? (double) l / (double) fg->left_ticks : 0;
				double		rsh = fg->right_ticks > 0 ? (double) r / (double) fg->right_ticks : 0;

				pyro_buf_append_str(out, "\nbaseline: ");
				pyro_buf_append_int64(out, l);
				append_unit(out, unit);
				pyro_buf_append_str(out, " (");
				append_share(out, l, fg->left_ticks);
				pyro_buf_append_str(out, "), self ");
				pyro_buf_append_int64(out, ls);
				pyro_buf_append_str(out, "\ncomparison: ");
				pyro_buf_append_int64(out, r);
				append_unit(out, unit);
				pyro_buf_append_str(out, " (");
				append_share(out, r, fg->right_ticks);
				pyro_buf_append_str(out, "), self ");
				pyro_buf_append_int64(out, rs);
				snprintf(num, sizeof(num), "\nchange: %+.2f%%", 100.0 * (rsh - lsh));
				pyro_buf_append_str(out, num);
			}
			else
			{
				pyro_buf_append_str(out, "\ntotal: ");
				pyro_buf_append_int64(out, total);
				append_unit(out, unit);
				pyro_buf_append_str(out, " (");
				append_share(out, total, fg->total);
				pyro_buf_append_str(out, "), self: ");
				pyro_buf_append_int64(out, self);
				append_unit(out, unit);
				pyro_buf_append_str(out, " (");
				append_share(out, self, fg->total);
				pyro_buf_append_byte(out, ')');
			}
			pyro_buf_append_str(out, "</title><rect x=\"");
			append_fmt_double(out, px);
			pyro_buf_append_str(out, "\" y=\"");
			append_fmt_double(out, y);
			pyro_buf_append_str(out, "\" width=\"");
			append_fmt_double(out, w);
			pyro_buf_append_str(out, "\" height=\"");
			pyro_buf_append_int64(out, FRAME_H - 1);
			pyro_buf_append_str(out, "\" fill=\"");
			pyro_buf_append_str(out, colour);
			pyro_buf_append_str(out, "\" rx=\"2\"/>");
			if (w - 6 >= 3 * CHAR_W)	/* room for three characters */
			{
				size_t		fits = (size_t) ((w - 6) / CHAR_W);
				size_t		chars = utf8_len(name);

				pyro_buf_append_str(out, "<text x=\"");
				append_fmt_double(out, px + 3);
				pyro_buf_append_str(out, "\" y=\"");
				append_fmt_double(out, y + FRAME_H - 5);
				pyro_buf_append_str(out, "\">");
				if (chars <= fits)
					append_xml(out, name, strlen(name));
				else
				{
					append_xml(out, name, utf8_prefix(name, fits - 2));
					pyro_buf_append_str(out, "..");
				}
				pyro_buf_append_str(out, "</text>");
			}
			pyro_buf_append_str(out, "</g>\n");
		}
	}
	pyro_buf_append_str(out, "</svg>\n");
}
