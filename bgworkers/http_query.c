/* http_query.c: stub, being written */
#include "http.h"
void
http_handle_profile_types(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_label_names(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_label_values(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_series(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_select_merge_stacktraces(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_select_merge_span_profile(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_select_merge_profile(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_select_series(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_diff(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_get_profile_stats(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_analyze_query(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
