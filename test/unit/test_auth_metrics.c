/* Unit tests for auth.c's comparison and metrics.c's rendering. */
#include "buf.h"
#include "http.h"
#include "metrics.h"

#include <criterion/criterion.h>
#include <string.h>

Test(auth, constant_time_equal)
{
  cr_assert(auth_equal("s3cret-token", "s3cret-token"));
  cr_assert_not(auth_equal("s3cret-token", "s3cret-tokem"));
  cr_assert_not(auth_equal("s3cret-token", "s3cret"));
  cr_assert_not(auth_equal("", "x"));
  cr_assert(auth_equal("", ""));
}

Test(metrics, renders_counters_and_histograms)
{
  struct buf b;
  metrics_init();
  metrics_webhook(WH_ACCEPTED);
  metrics_webhook(WH_ACCEPTED);
  metrics_webhook(WH_BAD_REQUEST);
  metrics_alerts(0, INGEST_NEW, 3);
  metrics_request(H_WEBHOOK, 2000000); /* 2 ms */
  metrics_commit(700000, 4);
  metrics_sync(150000); /* 0.15 ms: the fine buckets */
  buf_init(&b, 0);
  cr_assert_eq(metrics_render(&b, NULL), RB_OK);
  cr_assert(strstr(b.data, "runbookd_webhook_requests_total{outcome=\"accepted\"} 2\n"));
  cr_assert(strstr(b.data, "runbookd_webhook_requests_total{outcome=\"bad_request\"} 1\n"));
  cr_assert(strstr(b.data, "runbookd_alerts_total{status=\"firing\",result=\"new\"} 3\n"));
  cr_assert(strstr(b.data, "runbookd_http_request_duration_seconds_bucket{handler=\"/webhook\",le=\"0.001\"} 0\n"));
  cr_assert(strstr(b.data, "runbookd_http_request_duration_seconds_bucket{handler=\"/webhook\",le=\"0.0025\"} 1\n"));
  cr_assert(strstr(b.data, "runbookd_http_request_duration_seconds_count{handler=\"/webhook\"} 1\n"));
  cr_assert(strstr(b.data, "runbookd_store_commit_duration_seconds_bucket{le=\"0.001\"} 1\n"));
  cr_assert(strstr(b.data, "runbookd_store_committed_jobs_total 4\n"));
  cr_assert(strstr(b.data, "runbookd_store_sync_duration_seconds_bucket{le=\"0.0001\"} 0\n"));
  cr_assert(strstr(b.data, "runbookd_store_sync_duration_seconds_bucket{le=\"0.00025\"} 1\n"));
  cr_assert(strstr(b.data, "runbookd_store_sync_duration_seconds_bucket{le=\"1\"} 1\n"));
  cr_assert(strstr(b.data, "runbookd_store_sync_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
  cr_assert(strstr(b.data, "runbookd_store_sync_duration_seconds_count 1\n"));
  buf_free(&b);
}
