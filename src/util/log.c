/* log.c - logfmt/JSON line logger; see log.h. */
#include "log.h"
#include "buf.h"
#include "rbtime.h"

#include <stdarg.h>
#include <stdatomic.h>
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

/* logfmt quotes a value when it is empty or holds a space, '=', '"' or a
 * control character; inside quotes it escapes like JSON. */
static void
logfmt_value(struct buf *b, const char *v)
{
  int quote = *v == '\0';
  for (const char *p = v; *p && !quote; p++)
    if (*p == ' ' || *p == '=' || *p == '"' || (unsigned char)*p < 0x20)
      quote = 1;
  if (quote)
    buf_json_str(b, v);
  else
    buf_puts(b, v);
}

void
rblog(enum log_level level, const char *msg, ...)
{
  char ts[40];
  struct buf b;
  va_list ap;
  const char *k, *v;
  int json = atomic_load(&as_json);
  ssize_t w;

  if ((int)level < atomic_load(&min_level))
    return;
  buf_init(&b, 64 * 1024);
  rb_time_fmt_ms(rb_wall_ms(), ts, sizeof(ts));
  if (json) {
    buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
               names[level]);
    buf_json_str(&b, msg);
  } else {
    buf_printf(&b, "ts=%s level=%s msg=", ts, names[level]);
    logfmt_value(&b, msg);
  }
  va_start(ap, msg);
  while ((k = va_arg(ap, const char *)) != NULL) {
    v = va_arg(ap, const char *);
    if (!v)
      v = "";
    if (json) {
      buf_puts(&b, ",");
      buf_json_str(&b, k);
      buf_puts(&b, ":");
      buf_json_str(&b, v);
    } else {
      buf_printf(&b, " %s=", k);
      logfmt_value(&b, v);
    }
  }
  va_end(ap);
  buf_puts(&b, json ? "}\n" : "\n");
  if (b.data) {
    w = write(atomic_load(&out_fd), b.data, b.len);
    (void)w;
  }
  buf_free(&b);
}
