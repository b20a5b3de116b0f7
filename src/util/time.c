/* time.c - clocks and RFC 3339 parsing/formatting; see rbtime.h. */
#include "rbtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
rb_wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
rb_mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int
digits(const char *s, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

rb_status
rb_time_parse_ns(const char *s, int64_t *out_ns)
{
  static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  int y, mo, d, h, mi, sec, oh = 0, om = 0;
  int64_t frac = 0, days, total;
  const char *p;
  int nd = 0;

  if (!s || strlen(s) < 20)
    return RB_EINVAL;
  if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-'
      || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't')
      || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi)
      || s[16] != ':' || digits(s + 17, 2, &sec))
    return RB_EINVAL;
  p = s + 19;
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') {
      if (nd < 9) {
        frac = frac * 10 + (*p - '0');
        nd++;
      }
      p++;
    }
    if (nd == 0)
      return RB_EINVAL;
    for (int i = nd; i < 9; i++)
      frac *= 10;
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om)
        || oh > 23 || om > 59)
      return RB_EINVAL;
    oh *= sign;
    om *= sign;
    p += 6;
  } else {
    return RB_EINVAL;
  }
  if (*p != '\0')
    return RB_EINVAL;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59
      || sec > 60)
    return RB_EINVAL;
  if (y == 1 && mo == 1 && d == 1 && h == 0 && mi == 0 && sec == 0 && frac == 0
      && oh == 0 && om == 0) {
    *out_ns = 0; /* Go's zero time: unset */
    return RB_OK;
  }
  if (y < 1970 || y > 2261)
    return RB_EINVAL;
  days = days_from_civil(y, mo, d);
  total = days * 86400 + h * 3600 + mi * 60 + sec - (oh * 3600 + om * 60);
  if (total < 0)
    return RB_EINVAL;
  *out_ns = total * 1000000000 + frac;
  return RB_OK;
}

char *
rb_time_fmt_ms(int64_t ms, char *out, size_t outlen)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;

  gmtime_r(&t, &tm);
  snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec, (int)(ms % 1000));
  return out;
}

char *
rb_time_fmt_ns(int64_t ns, char *out, size_t outlen)
{
  time_t t = (time_t)(ns / 1000000000);
  int frac = (int)(ns % 1000000000);
  struct tm tm;
  char fr[12] = "";

  if (ns == 0) {
    snprintf(out, outlen, "0001-01-01T00:00:00Z");
    return out;
  }
  gmtime_r(&t, &tm);
  if (frac) {
    int n = 9;
    snprintf(fr, sizeof(fr), ".%09d", frac);
    while (n > 0 && fr[n] == '0')
      fr[n--] = '\0';
  }
  snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fr);
  return out;
}
