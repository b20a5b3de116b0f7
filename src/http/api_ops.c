/*
 * api_ops.c - operational endpoints, as in Prometheus and Alertmanager:
 * /-/healthy, /-/ready, /-/reload, /metrics, and the index page.
 */
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "store.h"

#include <string.h>

enum MHD_Result
api_healthy(struct http_req *r)
{
  static const char ok[] = "runbookd is Healthy.\n";
  return http_reply(r, MHD_HTTP_OK, "text/plain; charset=utf-8", ok, sizeof(ok) - 1);
}

enum MHD_Result
api_ready(struct http_req *r)
{
  static const char ok[] = "runbookd is Ready.\n";
  static const char no[] = "runbookd is not ready: the store is unavailable.\n";
  static const char bye[] = "runbookd is shutting down.\n";

  if (atomic_load(&r->app->stopping))
    return http_reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", bye,
                      sizeof(bye) - 1);
  if (store_ping(r->app->store) != RB_OK)
    return http_reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", no,
                      sizeof(no) - 1);
  return http_reply(r, MHD_HTTP_OK, "text/plain; charset=utf-8", ok, sizeof(ok) - 1);
}

enum MHD_Result
api_reload(struct http_req *r)
{
  char msg[RB_ERRLEN];

  if (app_reload(r->app, msg) != RB_OK)
    return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            "failed to reload config: %s", msg);
  return http_reply(r, MHD_HTTP_OK, NULL, "{\"status\":\"success\"}\n", 21);
}

enum MHD_Result
api_metrics(struct http_req *r)
{
  struct buf b;
  enum MHD_Result ret;

  buf_init(&b, 0);
  if (metrics_render(&b, r->app->store) != RB_OK) {
    buf_free(&b);
    return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
  }
  ret = http_reply(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
  buf_free(&b);
  return ret;
}

enum MHD_Result
api_index(struct http_req *r)
{
  /* The web page: /, /app.css and /app.js from web/, embedded in the
   * binary (api_web.c, docs/web.md). */
  enum MHD_Result api_web(struct http_req * req);

  return api_web(r);
}
