/* Unit tests for time.c. */
#include "rbtime.h"

#include <criterion/criterion.h>

Test(time, parses_alertmanager_timestamps)
{
  int64_t ns;
  cr_assert_eq(rb_time_parse_ns("2026-12-03T15:19:42.911229529Z", &ns), RB_OK);
  cr_assert_eq(ns, 1796311182911229529LL);
  cr_assert_eq(rb_time_parse_ns("2026-12-03T15:19:46Z", &ns), RB_OK);
  cr_assert_eq(ns, 1796311186000000000LL);
  cr_assert_eq(rb_time_parse_ns("2026-12-03T16:19:46+01:00", &ns), RB_OK);
  cr_assert_eq(ns, 1796311186000000000LL);
  cr_assert_eq(rb_time_parse_ns("0001-01-01T00:00:00Z", &ns), RB_OK);
  cr_assert_eq(ns, 0);
  cr_assert_eq(rb_time_parse_ns("1970-01-01T00:00:00.5Z", &ns), RB_OK);
  cr_assert_eq(ns, 500000000);
}

Test(time, refuses_malformed)
{
  static const char *const bad[] = {
    "", "2026-12-03", "2026-13-03T00:00:00Z", "2026-02-30T00:00:00Z",
    "2026-12-03T25:00:00Z", "2026-12-03T00:00:00", "2026-12-03T00:00:00.Z",
    "2026-12-03T00:00:00Zjunk", "1960-01-01T00:00:00Z", "9999-01-01T00:00:00Z",
    "2026-12-03 00:00:00Z",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t ns;
    cr_assert_eq(rb_time_parse_ns(bad[i], &ns), RB_EINVAL, "%s", bad[i]);
  }
}

Test(time, formats_round_trip)
{
  char out[48];
  int64_t ns;
  cr_assert_str_eq(rb_time_fmt_ns(1796311182911229529LL, out, sizeof(out)),
                   "2026-12-03T15:19:42.911229529Z");
  cr_assert_str_eq(rb_time_fmt_ns(1796311186000000000LL, out, sizeof(out)),
                   "2026-12-03T15:19:46Z");
  cr_assert_str_eq(rb_time_fmt_ns(1796311186500000000LL, out, sizeof(out)),
                   "2026-12-03T15:19:46.5Z");
  cr_assert_str_eq(rb_time_fmt_ns(0, out, sizeof(out)), "0001-01-01T00:00:00Z");
  cr_assert_str_eq(rb_time_fmt_ms(1796311186123LL, out, sizeof(out)),
                   "2026-12-03T15:19:46.123Z");
  cr_assert_eq(rb_time_parse_ns(rb_time_fmt_ns(1796311182911229529LL, out, sizeof(out)), &ns),
               RB_OK);
  cr_assert_eq(ns, 1796311182911229529LL);
}
