/* log.c - logfmt/JSON line logger; see log.h. */
#include "log.h"
#include "buf.h"
#include "rbtime.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int min_level = LOG_INFO;
static atomic_int as_json = 0;
static atomic_int out_fd = 2;

static const char *const names[] = { "debug", "info", "warn", "error" };

void
log_setup(enum log_level level, int json)
{
  atomic_store(&min_level, (int)level);
  atomic_store(&as_json, json ? 1 : 0);
}

void
log_set_fd(int fd)
{
  atomic_store(&out_fd, fd);
}

int
log_level_parse(const char *s)
{
  for (size_t i = 0; i < RB_ARRAY_LEN(names); i++)
    if (s && strcmp(s, names[i]) == 0)
      return (int)i;
  if (s && strcmp(s, "warning") == 0)
    return LOG_WARN;
  return -1;
}

/* A value (or message) longer than this many bytes is cut, at a character
 * boundary, and marked: a line stays readable and bounded whatever was
 * logged (a command's output, a peer's error body). */
#define LOG_VALUE_MAX 8192
#define TRUNCATED "\xe2\x80\xa6(truncated)"

/* Appends v as a quoted string escaped like JSON (also valid inside logfmt
 * quotes): '"', '\\' and control characters escaped, DEL as \u007f, bytes
 * that are not UTF-8 as \ufffd; cut after LOG_VALUE_MAX bytes of v. */
static rb_status
put_quoted(struct buf *b, const char *v)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)v, *start = p;
  rb_status rc = buf_append(b, "\"", 1);

  while (!rc && *p) {
    const unsigned char *run = p;
    char esc[7];
    size_t n;

    if ((size_t)(p - start) >= LOG_VALUE_MAX) {
      rc = buf_puts(b, TRUNCATED);
      break;
    }
    while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\'
           && (size_t)(p - start) < LOG_VALUE_MAX)
      p++;
    if (p > run) {
      rc = buf_append(b, run, (size_t)(p - run));
      continue;
    }
    switch (*p) {
    case '"':
      rc = buf_append(b, "\\\"", 2);
      break;
    case '\\':
      rc = buf_append(b, "\\\\", 2);
      break;
    case '\n':
      rc = buf_append(b, "\\n", 2);
      break;
    case '\r':
      rc = buf_append(b, "\\r", 2);
      break;
    case '\t':
      rc = buf_append(b, "\\t", 2);
      break;
    default:
      if (*p < 0x80) { /* other control characters and DEL */
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[*p >> 4];
        esc[5] = hex[*p & 15];
        rc = buf_append(b, esc, 6);
      } else if ((n = buf_utf8_seq(p, 4)) > 0) {
        rc = buf_append(b, p, n);
        p += n - 1;
      } else {
        rc = buf_append(b, "\\ufffd", 6);
      }
    }
    p++;
  }
  if (!rc)
    rc = buf_append(b, "\"", 1);
  return rc;
}

/* logfmt writes a value bare unless it is empty or holds a space, '=', '"',
 * a control character, DEL or a byte that is not UTF-8; then it is quoted
 * and escaped (put_quoted).  A bare value is cut like a quoted one. */
static rb_status
logfmt_value(struct buf *b, const char *v)
{
  const unsigned char *p = (const unsigned char *)v;
  size_t len, cut;
  rb_status rc;

  if (!*p)
    return buf_puts(b, "\"\"");
  while (*p) {
    size_t n = 1;
    if (*p <= ' ' || *p == '=' || *p == '"' || *p == 0x7f
        || (*p >= 0x80 && (n = buf_utf8_seq(p, 4)) == 0))
      return put_quoted(b, v);
    p += n;
  }
  len = (size_t)(p - (const unsigned char *)v);
  if (len <= LOG_VALUE_MAX)
    return buf_append(b, v, len);
  cut = LOG_VALUE_MAX;
  while (cut > 0 && ((unsigned char)v[cut] & 0xc0) == 0x80)
    cut--; /* not inside a UTF-8 sequence */
  rc = buf_append(b, v, cut);
  return rc ? rc : buf_puts(b, TRUNCATED);
}

void
rblog(enum log_level level, const char *msg, ...)
{
  char ts[40];
  struct buf b;
  va_list ap;
  const char *k, *v;
  int json = atomic_load(&as_json);
  rb_status rc;
  ssize_t w;

  if ((int)level < atomic_load(&min_level))
    return;
  /* Unbounded but for the cut of each value: the line is always closed. */
  buf_init(&b, 0);
  rb_time_fmt_ms(rb_wall_ms(), ts, sizeof(ts));
  if (json) {
    rc = buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, names[level]);
    if (!rc)
      rc = put_quoted(&b, msg);
  } else {
    rc = buf_printf(&b, "ts=%s level=%s msg=", ts, names[level]);
    if (!rc)
      rc = logfmt_value(&b, msg);
  }
  va_start(ap, msg);
  while (!rc && (k = va_arg(ap, const char *)) != NULL) {
    v = va_arg(ap, const char *);
    if (!v)
      v = "";
    if (json) {
      rc = buf_puts(&b, ",");
      if (!rc)
        rc = put_quoted(&b, k);
      if (!rc)
        rc = buf_puts(&b, ":");
      if (!rc)
        rc = put_quoted(&b, v);
    } else {
      rc = buf_printf(&b, " %s=", k);
      if (!rc)
        rc = logfmt_value(&b, v);
    }
  }
  va_end(ap);
  if (!rc)
    rc = buf_puts(&b, json ? "}\n" : "\n");
  if (rc) {
    /* Out of memory: a short line that says so, still well formed. */
    char line[160];
    int n = snprintf(line, sizeof(line),
                     json ? "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"log line lost: out of "
                            "memory\"}\n"
                          : "ts=%s level=%s msg=\"log line lost: out of memory\"\n",
                     ts, names[level]);
    w = write(atomic_load(&out_fd), line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
  } else {
    w = write(atomic_load(&out_fd), b.data, b.len);
  }
  (void)w;
  buf_free(&b);
}
