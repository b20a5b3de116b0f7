/*
 * api_stats.c - GET /api/v1/stats?from=&to=: operations statistics over a
 * window (stats.h).  Bounds are RFC 3339 or unix seconds; the default
 * window is the last 7 days up to now.
 */
#include "daemon.h"
#include "http.h"
#include "rbtime.h"
#include "stats.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_WINDOW_MS (7LL * 24 * 3600 * 1000)

enum MHD_Result
api_stats(struct http_req *r)
{
  const char *from = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "from");
  const char *to = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "to");
  int64_t now = rb_wall_ms(), from_ms, to_ms = now;
  enum MHD_Result ret;
  struct stats s;
  struct buf b;
  rb_status rc;

  /* The route allows GET and HEAD only.  An empty from= or to= is the
   * default, as when it is absent. */
  if (to && !*to)
    to = NULL;
  if (from && !*from)
    from = NULL;
  if (to && stats_parse_time(to, &to_ms))
    return http_reply_error(r, MHD_HTTP_BAD_REQUEST,
                            "to: must be an RFC 3339 time or unix seconds");
  from_ms = to_ms - DEFAULT_WINDOW_MS;
  if (from && stats_parse_time(from, &from_ms))
    return http_reply_error(r, MHD_HTTP_BAD_REQUEST,
                            "from: must be an RFC 3339 time or unix seconds");
  if (from_ms >= to_ms)
    return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "from must be before to");
  rc = stats_compute(r->app->store, from_ms, to_ms, now, &s);
  if (rc)
    return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the store is unavailable (%s)",
                            rb_strerror(rc));
  buf_init(&b, 0);
  rc = stats_to_json(&s, &b);
  stats_clear(&s);
  if (rc) {
    buf_free(&b);
    return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
  }
  ret = http_reply(r, MHD_HTTP_OK, NULL, b.data, b.len);
  buf_free(&b);
  return ret;
}
