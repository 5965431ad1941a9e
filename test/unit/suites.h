/*
 * suites.h
 *	  The list of unit-test suites.  Each test_<x>.c defines
 *	  "const UnitTest <x>_tests[]", terminated by {NULL, NULL};
 *	  add the suite to both lists below.
 */
#ifndef PYRO_SUITES_H
#define PYRO_SUITES_H

typedef struct UnitSuite
{
	const char *name;
	const UnitTest *tests;
} UnitSuite;

extern const UnitTest common_tests[];
extern const UnitTest symbols_tests[];
extern const UnitTest codec_tests[];
extern const UnitTest merge_tests[];
extern const UnitTest gzip_tests[];
extern const UnitTest labels_tests[];
extern const UnitTest pprof_tests[];
extern const UnitTest pprof_diff_tests[];
extern const UnitTest selector_tests[];
extern const UnitTest tree_tests[];
extern const UnitTest flamegraph_tests[];
extern const UnitTest connect_json_tests[];
extern const UnitTest ingest_params_tests[];
extern const UnitTest canonical_tests[];
extern const UnitTest block_tests[];
extern const UnitTest symmap_tests[];
extern const UnitTest sample_acc_tests[];
extern const UnitTest speedscope_tests[];
extern const UnitTest stack_select_tests[];
extern const UnitTest heatmap_tests[];
extern const UnitTest dot_tests[];
extern const UnitTest svg_tests[];

static const UnitSuite all_suites[] = {
	{"common", common_tests},
	{"symbols", symbols_tests},
	{"codec", codec_tests},
	{"merge", merge_tests},
	{"gzip", gzip_tests},
	{"labels", labels_tests},
	{"pprof", pprof_tests},
	{"pprof_diff", pprof_diff_tests},
	{"selector", selector_tests},
	{"tree", tree_tests},
	{"flamegraph", flamegraph_tests},
	{"connect_json", connect_json_tests},
	{"ingest_params", ingest_params_tests},
	{"canonical", canonical_tests},
	{"block", block_tests},
	{"symmap", symmap_tests},
	{"sample_acc", sample_acc_tests},
	{"speedscope", speedscope_tests},
	{"stack_select", stack_select_tests},
	{"heatmap", heatmap_tests},
	{"dot", dot_tests},
	{"svg", svg_tests},
};

#endif
