/*
 * log.h - structured logging in logfmt or JSON, one line per event.
 *
 * rblog(LOG_INFO, "webhook stored", "alerts", "3", "receiver", r, NULL)
 * writes: ts=2026-12-03T15:19:42.911Z level=info msg="webhook stored"
 * alerts=3 receiver=hook.  Arguments after the message are key/value string
 * pairs ended by NULL; a NULL value is written as an empty string.  A
 * message or value longer than 8 KiB is cut at a character boundary and
 * ends in "...(truncated)" (a real ellipsis); logfmt quotes a value holding
 * a space, '=', '"', a control character, DEL or bytes that are not UTF-8,
 * and escapes those inside the quotes as JSON does (\u007f, \ufffd).  Every
 * line is complete and valid (a JSON object, or logfmt with closed quotes).
 * Each line goes out in one write(2), so lines from different threads never
 * interleave.  Safe on any thread.
 */
#ifndef RUNBOOKD_LOG_H
#define RUNBOOKD_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the minimum level and the format (json != 0 for JSON).  Call before
 * threads start, or from the reload path (the fields are atomics). */
void log_setup(enum log_level level, int json);

/* Parses "debug", "info", "warn", "error"; returns -1 when unknown. */
int log_level_parse(const char *s);

/* Writes to file descriptor fd (default 2). */
void log_set_fd(int fd);

void rblog(enum log_level level, const char *msg, ...)
  __attribute__((sentinel));

#endif
