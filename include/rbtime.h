/*
 * rbtime.h - clocks and RFC 3339 timestamps.
 *
 * Wall time is what is stored and shown (milliseconds since the epoch);
 * the monotonic clock measures intervals.  Alert timestamps keep
 * Alertmanager's nanosecond precision so a notification's identity
 * (fingerprint, startsAt) compares exactly.
 */
#ifndef RUNBOOKD_RBTIME_H
#define RUNBOOKD_RBTIME_H

#include "rb.h"

int64_t rb_wall_ms(void);
int64_t rb_mono_ns(void);

/* Parses an RFC 3339 timestamp ("2026-12-03T15:19:42.911229529Z", offsets
 * allowed) into nanoseconds since the epoch.  Go's zero time
 * ("0001-01-01T00:00:00Z") gives 0, meaning "unset".  Returns RB_EINVAL on
 * a malformed value or one outside 1970..2261. */
rb_status rb_time_parse_ns(const char *s, int64_t *out_ns);

/* Formats ms since the epoch as "2026-12-03T15:19:42.911Z" into out (at
 * least 32 bytes).  Returns out. */
char *rb_time_fmt_ms(int64_t ms, char *out, size_t outlen);
/* The same with nanosecond precision, trailing zeros trimmed like Go. */
char *rb_time_fmt_ns(int64_t ns, char *out, size_t outlen);

#endif
