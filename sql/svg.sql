-- Flame graphs as SVG: a well-formed SVG document whose frames are those
-- of the flamebearer of the same query (level, start, total, self, name),
-- each as wide as its total; the same on a profile value and on a diff.
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set mux :abs_srcdir '/test/data/pprof/go/cpu-multi-mapping.pb.gz'

SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "s", "version": "1"}', 'svg');
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'mux'), '{"service_name": "s", "version": "2"}', 'svg');

-- the frames of a flamebearer: level, absolute start, total, self, name
-- (single: 4 values per frame; diff: 7, start and width over both sides)
CREATE FUNCTION fb_frames(fb jsonb) RETURNS TABLE (depth int, x bigint, total bigint, self bigint, name text)
LANGUAGE sql AS $$
	WITH w AS (SELECT CASE WHEN fb ? 'leftTicks' THEN 7 ELSE 4 END AS n),
	v AS (SELECT (l.d - 1)::int AS depth, (e.i - 1) / w.n AS k, (e.i - 1) % w.n AS f, e.v::bigint AS v
			FROM w, jsonb_array_elements(fb -> 'levels') WITH ORDINALITY l(lv, d),
				 jsonb_array_elements_text(l.lv) WITH ORDINALITY e(v, i)),
	fr AS (SELECT depth, k,
				  max(v) FILTER (WHERE f = 0) AS dx, max(v) FILTER (WHERE f = 1) AS t,
				  max(v) FILTER (WHERE f = 2) AS s, max(v) FILTER (WHERE f = 3) AS dx2,
				  max(v) FILTER (WHERE f = 4) AS t2, max(v) FILTER (WHERE f = 5) AS s2,
				  max(v) FILTER (WHERE f = (SELECT n - 1 FROM w)) AS nm
			 FROM v GROUP BY depth, k),
	xs AS (SELECT fr.*,
				  sum(dx + t) OVER (PARTITION BY depth ORDER BY k) - t AS x1,
				  sum(coalesce(dx2, 0) + coalesce(t2, 0)) OVER (PARTITION BY depth ORDER BY k) - coalesce(t2, 0) AS x2
			 FROM fr)
	SELECT depth, CASE WHEN (SELECT n FROM w) = 7 THEN x1 + x2 ELSE x1 END,
		   CASE WHEN (SELECT n FROM w) = 7 THEN t + t2 ELSE t END,
		   CASE WHEN (SELECT n FROM w) = 7 THEN s + s2 ELSE s END,
		   fb -> 'names' ->> nm::int
	  FROM xs
$$;

-- the frames of an SVG (from its data attributes and titles), and the width
-- of each rectangle against its total
CREATE FUNCTION svg_frames(doc text) RETURNS TABLE (depth int, x bigint, total bigint, self bigint, name text, width numeric)
LANGUAGE sql AS $$
	SELECT (xpath('/*/@data-depth', g))[1]::text::int, (xpath('/*/@data-x', g))[1]::text::bigint,
		   (xpath('/*/@data-total', g))[1]::text::bigint, (xpath('/*/@data-self', g))[1]::text::bigint,
		   split_part((xpath('/*/*[local-name()="title"]/text()', g))[1]::text, E'\n', 1),
		   (xpath('/*/*[local-name()="rect"]/@width', g))[1]::text::numeric
	  FROM unnest(xpath('//s:g[@class="f"]', doc::xml, '{{s,http://www.w3.org/2000/svg}}')) g
$$;

CREATE TEMP TABLE single AS
SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{version="1"}',
							'-infinity', 'infinity', 64, 'svg') AS fb,
	   pyroscope.flamegraph_svg('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{version="1"}',
								'-infinity', 'infinity', 64, 'svg', title => 'cpu <of> "s" & co') AS svg;
-- well formed; the title escaped; the root's tooltip names the unit
SELECT xml_is_well_formed_document(svg) AS well_formed,
	   svg LIKE '%<svg xmlns="http://www.w3.org/2000/svg"%' AS is_svg,
	   svg LIKE '%cpu &lt;of&gt; &quot;s&quot; &amp; co%' AS title_escaped,
	   (xpath('/s:svg/@data-ticks', svg::xml, '{{s,http://www.w3.org/2000/svg}}'))[1]::text::bigint = (fb ->> 'numTicks')::bigint AS ticks
  FROM single;
SELECT (SELECT count(*) FROM single, fb_frames(fb)) AS flamebearer_frames,
	   (SELECT count(*) FROM single, svg_frames(svg)) AS svg_frames;
-- the same frames, exactly
SELECT count(*) AS differences FROM (
	(SELECT depth, x, total, self, name FROM single, fb_frames(fb)
	 EXCEPT SELECT depth, x, total, self, name FROM single, svg_frames(svg))
	UNION ALL
	(SELECT depth, x, total, self, name FROM single, svg_frames(svg)
	 EXCEPT SELECT depth, x, total, self, name FROM single, fb_frames(fb))) d;
-- each rectangle as wide as its share of 1180 px
SELECT count(*) FILTER (WHERE abs(f.width - round(f.total * 1180.0 / (s.fb ->> 'numTicks')::numeric, 2)) > 0.01) AS wrong_widths
  FROM single s, svg_frames(s.svg) f;
SELECT name, total, width FROM single, svg_frames(svg) WHERE depth <= 1 ORDER BY depth, x;

-- on a profile value: the same picture as the selection's,
-- but its title and unit (a value knows no unit)
SELECT pyroscope.flamegraph_svg(pyroscope.merge(pyroscope.head_profile(h)), 64) =
	   replace(replace(svg, 'cpu &lt;of&gt; &quot;s&quot; &amp; co', 'Flame graph'), ' nanoseconds', '')
	   AS same_as_selection
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id), single
 WHERE h.tenant = 'svg' AND s.labels ->> 'version' = '1'
   AND s.profile_type = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'
 GROUP BY svg;

-- a diff: the frames of the diff flamebearer, widths over both sides,
-- red and green where the share changed
CREATE TEMP TABLE dual AS
SELECT pyroscope.diff('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{version="1"}', '-infinity', 'infinity',
					  '{version="2"}', '-infinity', 'infinity', 64, 'svg') AS fb,
	   pyroscope.diff_svg('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{version="1"}', '-infinity', 'infinity',
						  '{version="2"}', '-infinity', 'infinity', 64, 'svg') AS svg;
SELECT xml_is_well_formed_document(svg) AS well_formed,
	   (SELECT count(*) FROM svg_frames(svg)) = (SELECT count(*) FROM fb_frames(fb)) AS same_count
  FROM dual;
SELECT count(*) AS differences FROM (
	(SELECT depth, x, total, self, name FROM dual, fb_frames(fb)
	 EXCEPT SELECT depth, x, total, self, name FROM dual, svg_frames(svg))
	UNION ALL
	(SELECT depth, x, total, self, name FROM dual, svg_frames(svg)
	 EXCEPT SELECT depth, x, total, self, name FROM dual, fb_frames(fb))) d;
SELECT count(*) FILTER (WHERE abs(f.width - round(f.total * 1180.0 / ((d.fb ->> 'leftTicks')::numeric + (d.fb ->> 'rightTicks')::numeric), 2)) > 0.01) AS wrong_widths
  FROM dual d, svg_frames(d.svg) f;
-- both colours occur: the two pprofs differ
SELECT svg ~ 'fill="rgb\(2[0-4][0-9],[0-9]+,[0-9]+\)' AND svg ~ 'fill="rgb\([0-9]{2,3},2[01][0-9],' AS red_and_green,
	   svg LIKE '%baseline %comparison %' AS legend
  FROM dual;

-- nothing selected: a document with the root only; bad arguments
SELECT xml_is_well_formed_document(s), (SELECT count(*) FROM svg_frames(s))
  FROM pyroscope.flamegraph_svg('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{version="9"}',
								'-infinity', 'infinity', tenant => 'svg') s;
SELECT pyroscope.flamegraph_svg('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', -1, 'svg');
SELECT pyroscope.flamegraph_svg('nope:a:b:c:d', '{}', '-infinity', 'infinity', tenant => 'svg');
DROP FUNCTION fb_frames(jsonb);
DROP FUNCTION svg_frames(text);
