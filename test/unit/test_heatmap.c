/*
 * test_heatmap.c
 *	  Heatmap axes and cells (API-2.md 3.5).
 */
#include <string.h>

#include "unit.h"
#include "heatmap.h"

TEST(heatmap_axes_and_cells)
{
	PyroHeatPoint p[] = {
		{0, 1500, 10},
		{0, 2000, 30},
		{0, 900, 20},			/* before start: the first slot */
		{0, 9999, 110},			/* past end: the slot at or after end */
		{1, 2500, 10},
		{0, 1001, 12},			/* the same cell as the first, lower */
	};
	PyroHeatmap h;
	PyroError	err;

	REQUIRE(pyro_heatmap_build(p, 6, 2, 1000, 4500, 1000, &h, &err) == PYRO_OK);
	/* 10..110 in 20 buckets of 5 */
	CHECK(h.y_min[0] == 10.0);
	CHECK(h.y_min[4] == 30.0);
	CHECK(h.y_min[19] == 105.0);
	REQUIRE(h.nseries == 2);
	REQUIRE(h.series[0].nslots == 3);
	CHECK_EQ_INT(h.series[0].slots[0].ts, 1000);
	CHECK_EQ_INT(h.series[0].slots[0].counts[2], 1);
	CHECK_EQ_INT(h.series[0].slots[1].ts, 2000);
	CHECK_EQ_INT(h.series[0].slots[1].counts[0], 2);
	CHECK_EQ_INT(h.series[0].slots[1].counts[4], 1);
	CHECK_EQ_INT(h.series[0].slots[1].best[4], 1);
	CHECK_EQ_INT(h.series[0].slots[1].best[0], 5);	/* 12 beats 10 in [10, 15) */
	CHECK_EQ_INT(h.series[0].slots[2].ts, 5000);
	CHECK_EQ_INT(h.series[0].slots[2].counts[19], 1);
	CHECK_EQ_INT(h.series[0].count, 5);
	REQUIRE(h.series[1].nslots == 1);
	CHECK_EQ_INT(h.series[1].slots[0].ts, 3000);
	CHECK_EQ_INT(h.series[1].slots[0].counts[0], 1);
	pyro_heatmap_free(&h);
}

TEST(heatmap_equal_values_and_empty)
{
	PyroHeatPoint p[] = {{0, 10, 7}, {0, 20, 7}};
	PyroHeatmap h;
	PyroError	err;

	/* min = max: max becomes min + 1, every bound is 7, the value is last */
	REQUIRE(pyro_heatmap_build(p, 2, 1, 0, 100, 50, &h, &err) == PYRO_OK);
	CHECK(h.y_min[0] == 7.0 && h.y_min[19] == 7.0);
	REQUIRE(h.series[0].nslots == 1);
	CHECK_EQ_INT(h.series[0].slots[0].ts, 50);
	CHECK_EQ_INT(h.series[0].slots[0].counts[19], 2);
	CHECK_EQ_INT(h.series[0].slots[0].best[19], 0);
	pyro_heatmap_free(&h);

	REQUIRE(pyro_heatmap_build(NULL, 0, 0, 0, 100, 50, &h, &err) == PYRO_OK);
	CHECK_EQ_INT(h.nseries, 0);
	pyro_heatmap_free(&h);
	CHECK(pyro_heatmap_build(p, 2, 1, 0, 100, 0, &h, &err) == PYRO_EINVAL);
	p[1].series = 3;
	CHECK(pyro_heatmap_build(p, 2, 1, 0, 100, 50, &h, &err) == PYRO_EINVAL);
}

const UnitTest heatmap_tests[] = {
	UNIT_ENTRY(heatmap_axes_and_cells),
	UNIT_ENTRY(heatmap_equal_values_and_empty),
	{NULL, NULL}
};
